package codec

import (
	"bytes"
	"math"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
)

// The fuzz targets here decode malformed bytes, as a journal or a message
// from another rank may hold. Decode must not panic, must allocate in
// proportion to its input, must leave dst alone when it fails, and what it
// accepts must encode and decode again to the same.

// row is a fixed-size type of several fields without padding, so that its
// encoding is exactly its fields' bytes.
type row struct {
	X float64
	N int32
	K [2]int16
}

// tree is a gob type of slices, strings and a recursive pointer.
type tree struct {
	Name string
	Vals []float64
	Tags []string
	Rows [][]int32
	Next *tree
}

// maxFuzzValues bounds the values a fuzzed Decode expects.
const maxFuzzValues = 1 << 10

// Allocation limits: slack plus perByte bytes per byte of input. gob reads
// a message of up to 10 MiB that its length field announces in one
// allocation before it finds the input shorter (internal/saferio), and one
// input byte can be an element of a large struct; both stay bounded, which
// is what is checked: a length field of 2^60 must be refused, not allocated.
const (
	fixedSlack   = 1 << 20
	fixedPerByte = 4
	gobSlack     = 24 << 20
	gobPerByte   = 256
)

// allocated returns the bytes f allocated on the heap, or at least a figure
// no larger than limit when it is within limit. The cheap count, from
// runtime/metrics, takes in small allocations when their span is flushed,
// which can be a few MiB made before f when a collection starts during it;
// so a count over limit is taken again, exactly, around a second run of f,
// with runtime.ReadMemStats (which flushes every cache first). f must
// allocate the same when run again.
func allocated(limit uint64, f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	if got := s[0].Value.Uint64() - before; got <= limit {
		return got
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// checkDecode decodes data into count values of R, starting from fill, and
// checks the outcome.
func checkDecode[R any](t *testing.T, count int, data []byte, fill R, slack, perByte uint64) {
	c, err := New[R]()
	if err != nil {
		t.Fatal(err)
	}
	encode := func(vals []R) []byte {
		b, err := c.Append(nil, vals)
		if err != nil {
			t.Fatalf("encoding %d values of %T: %v", len(vals), vals, err)
		}
		return b
	}
	dst := make([]R, count)
	for i := range dst {
		dst[i] = fill
	}
	before := encode(dst)
	max := slack + perByte*uint64(len(data))
	if got := allocated(max, func() { err = c.Decode(dst, data) }); got > max {
		t.Fatalf("Decode of %d %T from %d bytes allocated %d bytes (limit %d)", count, fill, len(data), got, max)
	}
	if c.Fixed() && (err == nil) != (len(data) == count*c.size) {
		t.Fatalf("Decode of %d %T from %d bytes: %v", count, fill, len(data), err)
	}
	if err != nil {
		if after := encode(dst); !bytes.Equal(before, after) {
			t.Fatalf("a failed Decode (%v) changed dst", err)
		}
		return
	}
	enc := encode(dst)
	if c.Fixed() && !bytes.Equal(enc, data) {
		t.Fatalf("%x decoded to values that encode as %x", data, enc)
	}
	again := make([]R, count)
	if err := c.Decode(again, enc); err != nil {
		t.Fatalf("%d decoded values, encoded again, do not decode: %v", count, err)
	}
	if enc2 := encode(again); !bytes.Equal(enc, enc2) {
		t.Fatalf("decoded values encode as %x, and decoded from that, as %x", enc, enc2)
	}
}

func seed[R any](f *testing.F, vals ...R) {
	c, err := New[R]()
	if err != nil {
		f.Fatal(err)
	}
	b, err := c.Append(nil, vals)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint16(len(vals)), b)
}

// FuzzDecodeFixed decodes malformed bytes as fixed-size values.
func FuzzDecodeFixed(f *testing.F) {
	seed(f, 1.5, math.Inf(-1), math.NaN(), 0)
	seed(f, row{X: 2, N: -3, K: [2]int16{4, 5}}, row{})
	seed(f, [3]uint8{1, 2, 3})
	seed[float64](f)
	f.Fuzz(func(t *testing.T, count uint16, data []byte) {
		n := int(count) % (maxFuzzValues + 1)
		checkDecode(t, n, data, 0.25, fixedSlack, fixedPerByte)
		checkDecode(t, n, data, row{X: 1, N: 2, K: [2]int16{3, 4}}, fixedSlack, fixedPerByte)
		checkDecode(t, n, data, [3]uint8{9, 9, 9}, fixedSlack, fixedPerByte)
	})
}

// FuzzDecodeGob decodes malformed bytes as values that travel through gob.
func FuzzDecodeGob(f *testing.F) {
	seed(f, "", "one", strings.Repeat("é", 40), "\xff")
	seed(f,
		tree{Name: "root", Vals: []float64{1, math.NaN()}, Tags: []string{"a", ""}, Rows: [][]int32{{1, -2}, nil, {3}},
			Next: &tree{Name: "leaf", Next: &tree{}}},
		tree{},
		tree{Vals: make([]float64, 100)})
	seed[string](f)
	seed[tree](f)
	f.Fuzz(func(t *testing.T, count uint16, data []byte) {
		n := int(count) % (maxFuzzValues + 1)
		checkDecode(t, n, data, "fill", gobSlack, gobPerByte)
		checkDecode(t, n, data, tree{Name: "fill", Vals: []float64{-1}}, gobSlack, gobPerByte)
	})
}

// FuzzDecodeSlices decodes malformed bytes as slices of fixed-size
// elements, which travel as a length and their elements' memory.
func FuzzDecodeSlices(f *testing.F) {
	seed(f, []float64{1.5, math.Inf(-1), math.NaN()}, nil, []float64{}, make([]float64, 40))
	seed(f, [][3]float32{{1, 2, 3}, {-4, 5, 6}}, nil)
	seed(f, []row{{X: 2, N: -3, K: [2]int16{4, 5}}, {}}, []row{})
	seed(f, make([]struct{}, 3), nil)
	seed[[]float64](f)
	f.Add(uint16(2), []byte{3<<1 | 1, 0}) // a value sent apart, which Decode cannot receive
	f.Fuzz(func(t *testing.T, count uint16, data []byte) {
		n := int(count) % (maxFuzzValues + 1)
		checkDecode(t, n, data, []float64{-1, 2}, fixedSlack, fixedPerByte)
		checkDecode(t, n, data, [][3]float32{{9, 9, 9}}, fixedSlack, fixedPerByte)
		checkDecode(t, n, data, []row{{X: 1}}, fixedSlack, fixedPerByte)
		checkDecode(t, n, data, []struct{}{{}}, fixedSlack, fixedPerByte)
	})
}
