// Package datatype is the vocabulary of typed buffers shared by package mpi
// and the helpers it uses itself (internal/agree): the element types that MPI
// reduces natively, the reduction operations, and how each maps to Go. Package
// mpi re-exports every name here (mpi.Type, mpi.Float64, mpi.Sum, ...), which
// is how programs use them; they live here only so that a package below mpi
// can name them.
package datatype

import (
	"fmt"
	"reflect"
	"strconv"
	"unsafe"
)

// Type is the element type of a typed reduction buffer.
type Type int

// Element types of reduction buffers.
const (
	Int8 Type = iota
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Float32
	Float64
	numTypes
)

// Number is the set of Go types that MPI reduces natively.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 |
		~uint32 | ~uint64 | ~float32 | ~float64
}

// goTypes is the Go type of each Type's elements, and the reduction of two
// buffers of them: the one place where Types meet Go's types.
var goTypes = [numTypes]struct {
	t       reflect.Type
	combine func(acc, x []byte, op Op)
}{
	Int8:    {reflect.TypeFor[int8](), combine[int8]},
	Int16:   {reflect.TypeFor[int16](), combine[int16]},
	Int32:   {reflect.TypeFor[int32](), combine[int32]},
	Int64:   {reflect.TypeFor[int64](), combine[int64]},
	Uint8:   {reflect.TypeFor[uint8](), combine[uint8]},
	Uint16:  {reflect.TypeFor[uint16](), combine[uint16]},
	Uint32:  {reflect.TypeFor[uint32](), combine[uint32]},
	Uint64:  {reflect.TypeFor[uint64](), combine[uint64]},
	Float32: {reflect.TypeFor[float32](), combine[float32]},
	Float64: {reflect.TypeFor[float64](), combine[float64]},
}

// byKind is the Type of each kind of Number, int and uint by their size.
var byKind = func() (m [reflect.UnsafePointer + 1]Type) {
	for t, g := range goTypes {
		m[g.t.Kind()] = Type(t)
	}
	m[reflect.Int], m[reflect.Uint] = Int64, Uint64
	if strconv.IntSize == 32 {
		m[reflect.Int], m[reflect.Uint] = Int32, Uint32
	}
	return m
}()

// Valid reports whether t is one of the element types above.
func (t Type) Valid() bool { return t >= 0 && t < numTypes }

func (t Type) String() string {
	if !t.Valid() {
		return fmt.Sprintf("Type(%d)", int(t))
	}
	return goTypes[t].t.String()
}

// Size is the size of one element in bytes; 0 for an invalid Type.
func (t Type) Size() int {
	if !t.Valid() {
		return 0
	}
	return int(goTypes[t].t.Size())
}

// TypeOf is the element type of T.
func TypeOf[T Number]() Type { return byKind[reflect.TypeFor[T]().Kind()] }

// Bytes views the memory of s as bytes, without copying. Messages between
// ranks use the native byte order: ranks of one job run on one architecture.
func Bytes[T Number](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// Op is a predefined reduction operation.
type Op int

// Reduction operations.
const (
	Sum Op = iota
	Prod
	Min
	Max
	numOps
)

var opNames = [numOps]string{Sum: "sum", Prod: "prod", Min: "min", Max: "max"}

// Valid reports whether o is one of the operations above.
func (o Op) Valid() bool { return o >= 0 && o < numOps }

func (o Op) String() string {
	if !o.Valid() {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// Reduce combines parts[0], parts[1], ... in that order with op into dst, for
// the worlds that reduce in Go rather than in MPI. Every part must have
// len(dst) bytes, a whole number of elements of the valid Type t, and o must
// be valid.
func Reduce(dst []byte, parts [][]byte, t Type, o Op) {
	copy(dst, parts[0])
	for _, p := range parts[1:] {
		goTypes[t].combine(dst, p, o)
	}
}

// combine sets acc[i] = acc[i] op x[i] on buffers of T.
func combine[T Number](accBytes, xBytes []byte, op Op) {
	if len(accBytes) == 0 {
		return
	}
	var zero T
	n := len(accBytes) / int(unsafe.Sizeof(zero))
	acc := unsafe.Slice((*T)(unsafe.Pointer(&accBytes[0])), n)
	x := unsafe.Slice((*T)(unsafe.Pointer(&xBytes[0])), n)
	for i := range acc {
		switch op {
		case Sum:
			acc[i] += x[i]
		case Prod:
			acc[i] *= x[i]
		case Min:
			acc[i] = min(acc[i], x[i])
		case Max:
			acc[i] = max(acc[i], x[i])
		}
	}
}
