// Package codec turns values of any type into bytes and back, for messages
// between the ranks of one job. It is shared by mpimap (task results) and
// reduce (Func's values), so that both cross ranks by the same rules:
//
//   - Fixed-size types (booleans, numbers, and arrays and structs of them,
//     with no pointers anywhere, of any size) travel as their memory, with no
//     per-value work; the ranks of a job run one binary on one architecture.
//   - Slices of fixed-size elements ([]float64, [][3]float32, slices of
//     structs of numbers) travel as their length and their elements' memory.
//     A slice of length 0 comes back nil, whether it was nil or empty.
//   - Every other type goes through encoding/gob. New refuses up front, with
//     the reason, a type that gob would refuse or silently damage: funcs,
//     chans and unsafe pointers anywhere, unexported struct fields. Values
//     of interface types are checked when they are encoded.
//
// The two raw kinds can also leave large values out of an encoding, as parts
// to send apart and receive straight into the values' memory (AppendHead,
// DecodeHead).
package codec

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"reflect"
	"unsafe"
)

// Codec turns values of type R into bytes and back. Fixed-size types
// (numbers, bools, arrays and structs of them) travel as their memory, with no
// per-value work, and slices of them as a length and their elements' memory;
// the ranks of a job share one architecture. Every other type goes through
// encoding/gob.
type Codec[R any] struct {
	fixed bool
	// slice is set for slices of fixed-size elements, which travel as their
	// length and their elements' memory.
	slice bool
	size  int // bytes per value when fixed, per element for a slice
	// nilable is set for pointer and interface types, whose nil values gob
	// cannot encode: which values are nil travels apart from the others.
	nilable bool
}

// Fixed reports whether values travel as their memory. Their encoding cannot
// fail then, and has the same size on every rank.
func (c Codec[R]) Fixed() bool { return c.fixed }

// Size is the bytes of a value's encoding when Fixed, else 0.
func (c Codec[R]) Size() int {
	if c.fixed {
		return c.size
	}
	return 0
}

// Raw reports whether values travel as memory: fixed-size values, or slices
// of them. Their encoding cannot fail, and large values can travel apart
// from it (AppendHead).
func (c Codec[R]) Raw() bool { return c.fixed || c.slice }

// New returns the codec of R, or an error saying why values of R cannot
// cross ranks.
func New[R any]() (Codec[R], error) {
	t := reflect.TypeFor[R]()
	if IsFixed(t) {
		return Codec[R]{fixed: true, size: int(t.Size())}, nil
	}
	if t.Kind() == reflect.Slice && IsFixed(t.Elem()) {
		return Codec[R]{slice: true, size: int(t.Elem().Size())}, nil
	}
	if err := checkGob(t, map[reflect.Type]bool{}); err != nil {
		return Codec[R]{}, fmt.Errorf("values of type %v cannot cross ranks: %w", t, err)
	}
	return Codec[R]{nilable: t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface}, nil
}

// IsFixed reports whether values of t are plain memory: no pointers, so that
// their bytes mean the same in another process.
func IsFixed(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return IsFixed(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !IsFixed(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

var (
	gobEncoderType    = reflect.TypeFor[gob.GobEncoder]()
	binaryMarshalType = reflect.TypeFor[encoding.BinaryMarshaler]()
)

// checkGob finds what gob would refuse or silently drop in t: funcs, chans and
// unsafe pointers anywhere, and struct fields it cannot see. What an
// interface holds is only known from a value: Append reports it.
func checkGob(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if t.Implements(gobEncoderType) || t.Implements(binaryMarshalType) ||
		reflect.PointerTo(t).Implements(gobEncoderType) || reflect.PointerTo(t).Implements(binaryMarshalType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Uintptr:
		return fmt.Errorf("it holds a %v", t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return checkGob(t.Elem(), seen)
	case reflect.Map:
		if err := checkGob(t.Key(), seen); err != nil {
			return err
		}
		return checkGob(t.Elem(), seen)
	case reflect.Struct:
		exported := 0
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				return fmt.Errorf("field %s of %v is unexported, and would be lost (make the type fixed-size, export the field, or implement encoding.BinaryMarshaler)", f.Name, t)
			}
			exported++
			if err := checkGob(f.Type, seen); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		if exported == 0 && t.NumField() > 0 {
			return fmt.Errorf("%v has no exported fields", t)
		}
	}
	return nil
}

// Append adds the encoding of vals to dst.
func (c Codec[R]) Append(dst []byte, vals []R) ([]byte, error) {
	if c.Raw() {
		out, _, _ := c.AppendHead(dst, vals, nil, 0)
		return out, nil
	}
	out := dst
	if c.nilable {
		// A bitmap of the values that are not nil, then those values.
		present := make([]byte, (len(vals)+7)/8)
		some := make([]R, 0, len(vals))
		for i, v := range vals {
			if !isNil(v) {
				present[i/8] |= 1 << (i % 8)
				some = append(some, v)
			}
		}
		out = append(binary.AppendUvarint(out, uint64(len(vals))), present...)
		vals = some
	}
	buf := bytes.NewBuffer(out)
	if err := gob.NewEncoder(buf).Encode(vals); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// isNil reports whether v, of a pointer or interface type, is nil.
func isNil[R any](v R) bool {
	rv := reflect.ValueOf(&v).Elem()
	return rv.IsNil()
}

// Decode fills dst, whose length is the number of values expected, from
// data. When it fails, dst is left as it was.
func (c Codec[R]) Decode(dst []R, data []byte) error {
	if c.Raw() {
		return c.DecodeHead(dst, data, nil)
	}
	var present []byte
	if c.nilable {
		n, k := binary.Uvarint(data)
		size := (len(dst) + 7) / 8
		if k <= 0 || n != uint64(len(dst)) || size > len(data)-k {
			return fmt.Errorf("decoding %v: %d values sent where %d were expected", reflect.TypeFor[R](), n, len(dst))
		}
		present, data = data[k:k+size], data[k+size:]
	}
	var vals []R
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&vals); err != nil {
		return fmt.Errorf("decoding %v: %w", reflect.TypeFor[R](), err)
	}
	if present == nil {
		if len(vals) != len(dst) {
			return fmt.Errorf("%d values decoded where %d were sent", len(vals), len(dst))
		}
		copy(dst, vals)
		return nil
	}
	return placeNonNil(dst, vals, present)
}

// placeNonNil puts vals where present marks a value that is not nil, and
// nil elsewhere. gob decodes a pointer to a zero value as nil: such a
// pointer is made anew, so that only nil comes back nil.
func placeNonNil[R any](dst, vals []R, present []byte) error {
	want := 0
	for i := range dst {
		if present[i/8]&(1<<(i%8)) != 0 {
			want++
		}
	}
	if want != len(vals) {
		return fmt.Errorf("%d values decoded where %d were sent", len(vals), want)
	}
	t := reflect.TypeFor[R]()
	k := 0
	for i := range dst {
		var zero R
		dst[i] = zero
		if present[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		dst[i] = vals[k]
		k++
		if t.Kind() == reflect.Pointer && isNil(dst[i]) {
			reflect.ValueOf(&dst[i]).Elem().Set(reflect.New(t.Elem()))
		}
	}
	return nil
}

// rawBytes views the memory of vals, values of size bytes each, as bytes.
func rawBytes[R any](vals []R, size int) []byte {
	if len(vals) == 0 || size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), len(vals)*size)
}
