package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// Values that travel as memory (Raw): fixed-size values, whose encoding is
// their bytes, and slices of fixed-size elements, each encoded as a uvarint
// header (its length times two, plus one if its elements travel apart) and
// then, unless apart, its elements' bytes.
//
// An encoding can leave large values out, as parts: the bytes of a run of
// fixed-size values, or of one slice's elements. A message then carries the
// head and the parts follow as messages of their own, each received straight
// into the memory of the values it holds: no copy of the values but the one
// MPI makes.

// Parts hands DecodeHead the parts of an encoding, in the order AppendHead
// gave them.
type Parts interface {
	// Next waits for the next part and returns its size in bytes.
	Next() (int, error)
	// Read receives the part that Next announced into dst, which is as long.
	Read(dst []byte) error
}

// headBudget bounds, as a multiple of the least part, the values of one
// encoding that stay in its head: many small slices still go apart once
// they add up, so that a head never grows beyond a few MiB.
const headBudget = 64

// AppendHead adds the encoding of vals to dst, leaving out as parts (after
// those in parts) the values of at least big bytes when big > 0: for a
// fixed-size type, all of vals, for slices each one. Parts are vals' own
// memory, not copies: vals must not change until they are sent. Only the
// general (gob) encoding can fail, and it leaves nothing apart.
func (c Codec[R]) AppendHead(dst []byte, vals []R, parts [][]byte, big int) ([]byte, [][]byte, error) {
	switch {
	case c.fixed:
		b := rawBytes(vals, c.size)
		if big > 0 && len(b) >= big {
			return dst, append(parts, b), nil
		}
		return append(dst, b...), parts, nil
	case c.slice:
		inline := 0
		for k := range vals {
			b, n := c.valueBytes(&vals[k]), uint64(sliceLen(&vals[k]))
			apart := big > 0 && len(b) > 0 && (len(b) >= big || inline+len(b) > headBudget*big)
			if apart {
				dst = binary.AppendUvarint(dst, n<<1|1)
				parts = append(parts, b)
				continue
			}
			dst = append(binary.AppendUvarint(dst, n<<1), b...)
			inline += len(b)
		}
		return dst, parts, nil
	}
	out, err := c.Append(dst, vals)
	return out, parts, err
}

// DecodeHead fills dst, whose length is the number of values expected, from
// an encoding's head and the parts it left out, which parts delivers (nil
// when there can be none, as in Decode). A malformed head leaves dst as it
// was; a part that fails to arrive whole may leave some values written.
// Slices are made anew, of their exact length; a slice of length 0 is nil.
func (c Codec[R]) DecodeHead(dst []R, head []byte, parts Parts) error {
	switch {
	case c.fixed:
		return c.decodeFixed(dst, head, parts)
	case c.slice:
		if err := c.checkSlices(len(dst), head, parts != nil); err != nil {
			return err
		}
		for k := range dst {
			v, n := binary.Uvarint(head)
			head = head[n:]
			mem := c.makeValue(&dst[k], int(v>>1))
			if v&1 == 0 {
				head = head[copy(mem, head):]
				continue
			}
			if err := readPart(parts, mem); err != nil {
				return err
			}
		}
		return nil
	}
	return c.Decode(dst, head)
}

func (c Codec[R]) decodeFixed(dst []R, head []byte, parts Parts) error {
	want := len(dst) * c.size
	switch {
	case len(head) == want:
		copy(rawBytes(dst, c.size), head)
		return nil
	case len(head) == 0 && parts != nil:
		return readPart(parts, rawBytes(dst, c.size))
	}
	return fmt.Errorf("%d bytes for %d values of %d bytes", len(head), len(dst), c.size)
}

// readPart receives the next part into mem, which must be its size.
func readPart(parts Parts, mem []byte) error {
	size, err := parts.Next()
	if err != nil {
		return err
	}
	if size != len(mem) {
		return fmt.Errorf("a part of %d bytes where %d were expected", size, len(mem))
	}
	return parts.Read(mem)
}

var errApart = errors.New("values sent apart from their encoding, which cannot be received here")

// checkSlices checks that head holds count slices and nothing more, before
// anything is made for them: inline slices no longer than what is left of
// head, apart ones only if withParts, and no length that overflows.
func (c Codec[R]) checkSlices(count int, head []byte, withParts bool) error {
	for k := range count {
		v, n := binary.Uvarint(head)
		if n <= 0 {
			return fmt.Errorf("decoding %v: the encoding ends at value %d of %d", reflect.TypeFor[R](), k, count)
		}
		head = head[n:]
		length := v >> 1
		if length > math.MaxInt/uint64(max(c.size, 1)) {
			return fmt.Errorf("decoding %v: a slice of %d elements", reflect.TypeFor[R](), length)
		}
		bytes := int(length) * c.size
		switch {
		case v&1 == 0 && bytes > len(head):
			return fmt.Errorf("decoding %v: a slice of %d bytes in the %d left", reflect.TypeFor[R](), bytes, len(head))
		case v&1 == 0:
			head = head[bytes:]
		case !withParts:
			return fmt.Errorf("decoding %v: %w", reflect.TypeFor[R](), errApart)
		case bytes == 0:
			return fmt.Errorf("decoding %v: an empty value sent apart", reflect.TypeFor[R]())
		}
	}
	if len(head) != 0 {
		return fmt.Errorf("decoding %v: %d bytes left over after %d values", reflect.TypeFor[R](), len(head), count)
	}
	return nil
}

// Clone sets dst to copies of src, as they would be decoded from their
// encoding (a slice of its exact length, nil if empty), for a Raw codec.
// Values that never left their rank then become what they would have
// become on another: independent of what fn still holds.
func (c Codec[R]) Clone(dst, src []R) {
	switch {
	case c.fixed:
		copy(dst, src)
	case c.slice:
		for k := range src {
			n := sliceLen(&src[k])
			b := c.valueBytes(&src[k]) // before dst[k] is set: they may be one
			copy(c.makeValue(&dst[k], n), b)
		}
	default:
		panic(fmt.Sprintf("codec: Clone of %v, which travels through gob", reflect.TypeFor[R]()))
	}
}

// Memory is the memory of vals of a fixed-size type, or nil.
func (c Codec[R]) Memory(vals []R) []byte {
	if !c.fixed {
		return nil
	}
	return rawBytes(vals, c.size)
}

// sliceHeader is the layout of a slice value.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// sliceLen is the length of the slice at v, of any slice type R.
func sliceLen[R any](v *R) int { return (*sliceHeader)(unsafe.Pointer(v)).len }

// valueBytes views the elements of the slice at v as bytes.
func (c Codec[R]) valueBytes(v *R) []byte {
	h := (*sliceHeader)(unsafe.Pointer(v))
	if h.len == 0 || c.size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(h.data), h.len*c.size)
}

// zeroSized is where slices of zero-size elements point: never read.
var zeroSized [8]byte

// makeValue sets the slice at v to a new one of n zeroed elements (nil if n
// is 0) and returns its memory. The memory is allocated as words, which
// suits the alignment of any fixed-size element, and holds no pointers, as
// the elements do not.
func (c Codec[R]) makeValue(v *R, n int) []byte {
	h := (*sliceHeader)(unsafe.Pointer(v))
	switch {
	case n == 0:
		*h = sliceHeader{}
		return nil
	case c.size == 0:
		*h = sliceHeader{data: unsafe.Pointer(&zeroSized), len: n, cap: n}
		return nil
	}
	size := n * c.size
	words := make([]uint64, (size+7)/8)
	*h = sliceHeader{data: unsafe.Pointer(unsafe.SliceData(words)), len: n, cap: n}
	return unsafe.Slice((*byte)(h.data), size)
}

// AppendSplit appends to dst the encoding of the one value *v, of a Raw
// codec, but for the value's memory, which it returns: the encoding is dst's
// new bytes followed by mem. A journal writes a large value that way, from
// where it lies.
func (c Codec[R]) AppendSplit(dst []byte, v *R) (out, mem []byte) {
	switch {
	case c.fixed:
		return dst, rawBytes(unsafe.Slice(v, 1), c.size)
	case c.slice:
		return binary.AppendUvarint(dst, uint64(sliceLen(v))<<1), c.valueBytes(v)
	}
	panic(fmt.Sprintf("codec: AppendSplit of %v, which travels through gob", reflect.TypeFor[R]()))
}
