package codec

import (
	"cmp"
	"encoding"
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"unsafe"
)

// Digest writes to w a canonical encoding of vals: equal values give equal
// bytes in every process of one binary, whatever the order in which their maps
// iterate, the padding between their fields, or whether an empty slice is nil.
// Hashing it tells whether two ranks hold the same arguments, or whether a
// journal was written for them, without sending them. Values that cannot
// cross ranks (funcs, chans) are an error, as are values nested too deeply
// to be anything but a cycle.
func Digest[T any](w io.Writer, vals []T) error {
	d := digester{w: w}
	t := reflect.TypeFor[T]()
	if ranges, ok := plainRanges(t); ok && len(vals) > 0 {
		size := int(t.Size())
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), len(vals)*size)
		d.uint(uint64(len(vals)))
		if len(ranges) == 1 && ranges[0] == [2]int{0, size} {
			d.flush()
			if d.err == nil {
				_, d.err = w.Write(raw) // no padding: the memory is the encoding
			}
			return d.err
		}
		for k := 0; k < len(raw) && d.err == nil; k += size {
			for _, r := range ranges {
				d.write(raw[k+r[0] : k+r[1]])
			}
		}
		d.flush()
		return d.err
	}
	d.value(reflect.ValueOf(vals), 0)
	d.flush()
	return d.err
}

// maxDepth bounds the nesting of a digested value: deeper is a cycle.
const maxDepth = 10000

type digester struct {
	w   io.Writer
	buf []byte
	err error
}

func (d *digester) write(b []byte) {
	d.buf = append(d.buf, b...)
	if len(d.buf) >= 32<<10 && d.w != nil { // a map's entries are kept whole, to sort
		d.flush()
	}
}

func (d *digester) flush() {
	if d.err == nil && len(d.buf) > 0 {
		_, d.err = d.w.Write(d.buf)
	}
	d.buf = d.buf[:0]
}

func (d *digester) uint(v uint64) { d.buf = binary.AppendUvarint(d.buf, v) }
func (d *digester) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *digester) value(v reflect.Value, depth int) {
	if d.err != nil {
		return
	}
	if depth > maxDepth {
		d.fail(fmt.Errorf("a %v nested over %d deep (a cycle?)", v.Type(), maxDepth))
		return
	}
	if t := v.Type(); (t.Implements(binaryMarshalType) || t.Implements(gobEncoderType)) &&
		v.CanInterface() && v.Kind() != reflect.Interface && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		if m, ok := v.Interface().(encoding.BinaryMarshaler); ok {
			b, err := m.MarshalBinary()
			d.fail(err)
			d.uint(uint64(len(b)))
			d.write(b)
			return
		}
		if m, ok := v.Interface().(gob.GobEncoder); ok {
			b, err := m.GobEncode()
			d.fail(err)
			d.uint(uint64(len(b)))
			d.write(b)
			return
		}
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			d.uint(1)
		} else {
			d.uint(0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.buf = binary.AppendVarint(d.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d.uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		d.buf = binary.LittleEndian.AppendUint64(d.buf, math.Float64bits(v.Float()))
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		d.buf = binary.LittleEndian.AppendUint64(d.buf, math.Float64bits(real(c)))
		d.buf = binary.LittleEndian.AppendUint64(d.buf, math.Float64bits(imag(c)))
	case reflect.String:
		d.uint(uint64(v.Len()))
		d.write(unsafe.Slice(unsafe.StringData(v.String()), v.Len()))
	case reflect.Slice, reflect.Array:
		d.uint(uint64(v.Len()))
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			d.write(v.Bytes())
			return
		}
		for i := range v.Len() {
			d.value(v.Index(i), depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			d.value(v.Field(i), depth+1)
		}
	case reflect.Pointer:
		if v.IsNil() {
			d.uint(0)
			return
		}
		d.uint(1)
		d.value(v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			d.uint(0)
			return
		}
		name := Layout(v.Elem().Type())
		d.uint(uint64(len(name)) + 1)
		d.write([]byte(name))
		d.value(v.Elem(), depth+1)
	case reflect.Map:
		d.mapValue(v, depth)
	default:
		d.fail(fmt.Errorf("a %v cannot cross ranks", v.Type()))
	}
}

// mapValue writes a map's entries in the order of their keys' encodings, so
// that the order in which a map iterates, which differs from run to run, does
// not change the digest.
func (d *digester) mapValue(v reflect.Value, depth int) {
	type entry struct{ key, val []byte }
	entries := make([]entry, 0, v.Len())
	sub := digester{}
	for it := v.MapRange(); it.Next(); {
		var e entry
		sub.buf, sub.w = nil, nil
		sub.value(it.Key(), depth+1)
		e.key = sub.buf
		sub.buf = nil
		sub.value(it.Value(), depth+1)
		e.val = sub.buf
		entries = append(entries, e)
	}
	if sub.err != nil {
		d.fail(sub.err)
		return
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(string(a.key), string(b.key)) })
	d.uint(uint64(len(entries)))
	for _, e := range entries {
		d.write(e.key)
		d.write(e.val)
	}
}

// plainRanges reports whether t is fixed-size, and if so the byte ranges of
// one value that hold data rather than padding, merged where adjacent.
func plainRanges(t reflect.Type) ([][2]int, bool) {
	if !IsFixed(t) {
		return nil, false
	}
	var ranges [][2]int
	var add func(t reflect.Type, off int)
	add = func(t reflect.Type, off int) {
		switch t.Kind() {
		case reflect.Struct:
			for i := range t.NumField() {
				f := t.Field(i)
				add(f.Type, off+int(f.Offset))
			}
		case reflect.Array:
			for i := range t.Len() {
				add(t.Elem(), off+i*int(t.Elem().Size()))
			}
		default:
			if t.Size() == 0 {
				return
			}
			end := off + int(t.Size())
			if k := len(ranges) - 1; k >= 0 && ranges[k][1] == off {
				ranges[k][1] = end
				return
			}
			ranges = append(ranges, [2]int{off, end})
		}
	}
	if t.Size() > 0 && !hasPadding(t) {
		return [][2]int{{0, int(t.Size())}}, true
	}
	add(t, 0)
	return ranges, true
}

// hasPadding reports whether a fixed-size t has bytes that hold no field.
func hasPadding(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		used := uintptr(0)
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Offset != used || hasPadding(f.Type) {
				return true
			}
			used += f.Type.Size()
		}
		return used != t.Size()
	case reflect.Array:
		return t.Len() > 0 && hasPadding(t.Elem())
	}
	return false
}

// Layout describes t completely: its name and package where it has them, and
// its structure down to every field's name and type, so that two types that
// would decode each other's bytes wrongly (fields swapped, a field added, a
// float32 become a float64) have different layouts. A journal records the
// layout of its results.
func Layout(t reflect.Type) string {
	return layout(t, map[reflect.Type]bool{})
}

func layout(t reflect.Type, seen map[reflect.Type]bool) string {
	name := t.String()
	if t.PkgPath() != "" {
		name = t.PkgPath() + "." + t.Name()
	}
	if seen[t] {
		return name // a recursive type: named by the time it recurs
	}
	seen[t] = true
	defer delete(seen, t)
	var inner string
	switch t.Kind() {
	case reflect.Struct:
		inner = "struct{"
		for i := range t.NumField() {
			f := t.Field(i)
			if i > 0 {
				inner += "; "
			}
			inner += f.Name + " " + layout(f.Type, seen)
		}
		inner += "}"
	case reflect.Pointer:
		inner = "*" + layout(t.Elem(), seen)
	case reflect.Slice:
		inner = "[]" + layout(t.Elem(), seen)
	case reflect.Array:
		inner = fmt.Sprintf("[%d]%s", t.Len(), layout(t.Elem(), seen))
	case reflect.Map:
		inner = "map[" + layout(t.Key(), seen) + "]" + layout(t.Elem(), seen)
	default:
		inner = t.Kind().String()
	}
	if t.Name() == "" || inner == name {
		return inner
	}
	return name + " " + inner
}
