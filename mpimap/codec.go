package mpimap

import (
	"bytes"
	"encoding"
	"encoding/gob"
	"fmt"
	"reflect"
	"unsafe"
)

// codec turns results of type R into bytes and back. Fixed-size types
// (numbers, bools, arrays and structs of them) travel as their memory, with no
// per-value work; the ranks of a job share one architecture. Every other type
// goes through encoding/gob.
type codec[R any] struct {
	fixed bool
	size  int // bytes per value when fixed
}

func newCodec[R any]() (codec[R], error) {
	t := reflect.TypeFor[R]()
	if t == nil { // R is an interface type: checked when values are encoded
		return codec[R]{}, nil
	}
	if isFixed(t) {
		return codec[R]{fixed: true, size: int(t.Size())}, nil
	}
	if err := checkGob(t, map[reflect.Type]bool{}); err != nil {
		return codec[R]{}, fmt.Errorf("mpimap: results of type %v cannot cross ranks: %w", t, err)
	}
	return codec[R]{}, nil
}

// isFixed reports whether values of t are plain memory: no pointers, so that
// their bytes mean the same in another process.
func isFixed(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return isFixed(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !isFixed(t.Field(i).Type) {
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
// unsafe pointers anywhere, and struct fields it cannot see.
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

// append adds the encoding of vals to dst.
func (c codec[R]) append(dst []byte, vals []R) ([]byte, error) {
	if c.fixed {
		return append(dst, rawBytes(vals, c.size)...), nil
	}
	buf := bytes.NewBuffer(dst)
	if err := gob.NewEncoder(buf).Encode(vals); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

// decode fills dst, whose length is the number of values expected, from data.
func (c codec[R]) decode(dst []R, data []byte) error {
	if c.fixed {
		if len(data) != len(dst)*c.size {
			return fmt.Errorf("mpimap: %d bytes for %d results of %d bytes", len(data), len(dst), c.size)
		}
		copy(rawBytes(dst, c.size), data)
		return nil
	}
	var vals []R
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&vals); err != nil {
		return fmt.Errorf("mpimap: decoding results: %w", err)
	}
	if len(vals) != len(dst) {
		return fmt.Errorf("mpimap: %d results decoded where %d were sent", len(vals), len(dst))
	}
	copy(dst, vals)
	return nil
}

// rawBytes views the memory of vals, values of size bytes each, as bytes.
func rawBytes[R any](vals []R, size int) []byte {
	if len(vals) == 0 || size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), len(vals)*size)
}
