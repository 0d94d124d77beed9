package datatype

import (
	"math"
	"slices"
	"testing"
)

func TestTypeOf(t *testing.T) {
	type myFloat float64
	for _, c := range []struct {
		got, want Type
		name      string
		size      int
	}{
		{TypeOf[int8](), Int8, "int8", 1},
		{TypeOf[int16](), Int16, "int16", 2},
		{TypeOf[int32](), Int32, "int32", 4},
		{TypeOf[int64](), Int64, "int64", 8},
		{TypeOf[int](), Int64, "int64", 8}, // 64-bit machines
		{TypeOf[uint8](), Uint8, "uint8", 1},
		{TypeOf[uint16](), Uint16, "uint16", 2},
		{TypeOf[uint32](), Uint32, "uint32", 4},
		{TypeOf[uint64](), Uint64, "uint64", 8},
		{TypeOf[uint](), Uint64, "uint64", 8},
		{TypeOf[float32](), Float32, "float32", 4},
		{TypeOf[float64](), Float64, "float64", 8},
		{TypeOf[myFloat](), Float64, "float64", 8},
	} {
		if c.got != c.want || c.got.String() != c.name || c.got.Size() != c.size {
			t.Errorf("got %v (%q, size %d), want %v (%q, size %d)", c.got, c.got.String(), c.got.Size(), c.want, c.name, c.size)
		}
	}
	if Type(-1).Valid() || Type(10).Valid() || Type(10).Size() != 0 || Type(10).String() != "Type(10)" {
		t.Errorf("Type(10) counts as valid, or has size %d and name %q", Type(10).Size(), Type(10))
	}
	if Op(4).Valid() || Op(4).String() != "Op(4)" || Max.String() != "max" {
		t.Errorf("Op(4) = %q, Max = %q", Op(4), Max)
	}
}

func TestReduce(t *testing.T) {
	parts := [][]float64{{1, -2, 3}, {4, 5, -6}, {0.5, 0.5, 0.5}}
	raw := make([][]byte, len(parts))
	for i, p := range parts {
		raw[i] = Bytes(p)
	}
	for op, want := range map[Op][]float64{
		Sum:  {5.5, 3.5, -2.5},
		Prod: {2, -5, -9},
		Min:  {0.5, -2, -6},
		Max:  {4, 5, 3},
	} {
		dst := make([]float64, 3)
		Reduce(Bytes(dst), raw, Float64, op)
		if !slices.Equal(dst, want) {
			t.Errorf("%v: got %v, want %v", op, dst, want)
		}
	}
	ints := []int16{math.MaxInt16, 1}
	dst := make([]int16, 1)
	Reduce(Bytes(dst), [][]byte{Bytes(ints[:1]), Bytes(ints[1:])}, Int16, Sum)
	if dst[0] != math.MinInt16 {
		t.Errorf("int16 sum wraps to %d, want %d", dst[0], math.MinInt16)
	}
}
