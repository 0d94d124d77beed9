package codec

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// big is a fixed-size value of 1 MiB, far over what a channel can carry.
type big [1 << 17]float64

// framed is a struct of numbers holding an array, of 64 KiB + 8 bytes.
type framed struct {
	N    int64
	Grid [1 << 13]float64
}

func TestRawKinds(t *testing.T) {
	check := func(name string, fixed, raw, wantFixed, wantRaw bool) {
		t.Helper()
		if fixed != wantFixed || raw != wantRaw {
			t.Errorf("%s: Fixed %v Raw %v, want %v %v", name, fixed, raw, wantFixed, wantRaw)
		}
	}
	cb, _ := New[big]()
	check("[131072]float64", cb.Fixed(), cb.Raw(), true, true)
	cf, _ := New[framed]()
	check("framed", cf.Fixed(), cf.Raw(), true, true)
	cs, _ := New[[]float64]()
	check("[]float64", cs.Fixed(), cs.Raw(), false, true)
	cp, _ := New[[][3]float32]()
	check("[][3]float32", cp.Fixed(), cp.Raw(), false, true)
	cr, _ := New[[]row]()
	check("[]row", cr.Fixed(), cr.Raw(), false, true)
	cn, _ := New[[][]float64]()
	check("[][]float64", cn.Fixed(), cn.Raw(), false, false)
	cq, _ := New[[]*float64]()
	check("[]*float64", cq.Fixed(), cq.Raw(), false, false)
	if cb.size != int(unsafe.Sizeof(big{})) || cf.size != 1<<16+8 {
		t.Errorf("sizes %d and %d", cb.size, cf.size)
	}
}

// Slices of fixed-size elements travel raw: a length and the bytes, no gob.
// A slice of length 0 comes back nil, nil or empty.
func TestSlicesRoundTrip(t *testing.T) {
	vals := [][]float64{{1, math.NaN(), math.Copysign(0, -1)}, nil, {}, make([]float64, 3, 100), {math.Inf(1)}}
	got := roundTrip(t, vals)
	for i, v := range vals {
		if len(got[i]) != len(v) || cap(got[i]) != len(v) {
			t.Fatalf("value %d: len %d cap %d, want %d", i, len(got[i]), cap(got[i]), len(v))
		}
		if len(v) == 0 && got[i] != nil {
			t.Errorf("value %d of length 0 came back %#v, want nil", i, got[i])
		}
		for k := range v {
			if math.Float64bits(v[k]) != math.Float64bits(got[i][k]) {
				t.Errorf("value %d[%d]: got %v, want %v", i, k, got[i][k], v[k])
			}
		}
	}
	c, _ := New[[]float64]()
	b, _ := c.Append(nil, vals[:1])
	if want := append([]byte{3 << 1}, rawBytes(vals[0], 8)...); !bytes.Equal(b, want) {
		t.Errorf("encoding %x, want %x (a length and the bytes)", b, want)
	}

	tri := [][3]float32{{1, 2, 3}, {-4, 5.5, 6}}
	if got := roundTrip(t, [][][3]float32{tri, nil}); !reflect.DeepEqual(got[0], tri) || got[1] != nil {
		t.Errorf("[][3]float32: got %v", got)
	}
	rows := []row{{X: 1, N: 2, K: [2]int16{3, 4}}, {}}
	if got := roundTrip(t, [][]row{rows}); !reflect.DeepEqual(got[0], rows) {
		t.Errorf("[]row: got %v", got)
	}
	empties := roundTrip(t, [][]struct{}{make([]struct{}, 5), nil})
	if len(empties[0]) != 5 || empties[1] != nil {
		t.Errorf("[]struct{}: got lengths %d and %v", len(empties[0]), empties[1])
	}
}

// Slices made by Decode and Clone are the decoder's own, however they
// were made on the other side, and a value may be its own source.
func TestCloneIndependent(t *testing.T) {
	c, _ := New[[]int32]()
	shared := []int32{1, 2, 3, 4}
	src := [][]int32{shared[:2], shared[1:3], {}, nil}
	dst := make([][]int32, len(src))
	c.Clone(dst, src)
	shared[1] = 99
	if !reflect.DeepEqual(dst, [][]int32{{1, 2}, {2, 3}, nil, nil}) || cap(dst[0]) != 2 {
		t.Errorf("Clone: %v", dst)
	}
	c.Clone(src, src)
	if !reflect.DeepEqual(src[:2], [][]int32{{1, 99}, {99, 3}}) {
		t.Errorf("Clone in place: %v", src)
	}
	a, _ := New[big]()
	x := []big{{1: 7}}
	y := make([]big, 1)
	a.Clone(y, x)
	if y[0][1] != 7 {
		t.Errorf("Clone of a fixed value lost it")
	}
}

// queue is Parts from memory, as messages would bring them.
type queue struct {
	parts [][]byte
	reads int
}

func (q *queue) Next() (int, error) {
	if len(q.parts) == 0 {
		return 0, errors.New("no part")
	}
	return len(q.parts[0]), nil
}

func (q *queue) Read(dst []byte) error {
	copy(dst, q.parts[0])
	q.parts = q.parts[1:]
	q.reads++
	return nil
}

// Values of at least big bytes are left out of the head, as parts that are
// the values' own memory, and decode from the parts.
func TestHeadAndParts(t *testing.T) {
	c, _ := New[[]float64]()
	vals := [][]float64{make([]float64, 4), make([]float64, 1), nil, make([]float64, 8)}
	for i := range vals[3] {
		vals[3][i] = float64(i)
	}
	head, parts, err := c.AppendHead([]byte("h"), vals, nil, 32)
	if err != nil || len(parts) != 2 || &parts[1][0] != (*byte)(unsafe.Pointer(&vals[3][0])) {
		t.Fatalf("AppendHead: %d parts, err %v; want 2 parts of the values' own memory", len(parts), err)
	}
	got := make([][]float64, len(vals))
	if err := c.Decode(got, head[1:]); err == nil || !errors.Is(err, errApart) {
		t.Fatalf("Decode of a head with parts: %v", err)
	}
	q := &queue{parts: parts}
	if err := c.DecodeHead(got, head[1:], q); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[:2], vals[:2]) || got[2] != nil || !reflect.DeepEqual(got[3], vals[3]) || q.reads != 2 {
		t.Errorf("decoded %v from %d parts", got, q.reads)
	}

	// Many small values go apart once the head holds headBudget parts' worth.
	many := make([][]float64, 3*headBudget)
	for i := range many {
		many[i] = make([]float64, 2)
	}
	head, parts, _ = c.AppendHead(nil, many, nil, 32)
	if len(parts) == 0 || len(head) > 2*headBudget*32 {
		t.Errorf("%d small values: a head of %d bytes and %d parts", len(many), len(head), len(parts))
	}
	if err := c.DecodeHead(make([][]float64, len(many)), head, &queue{parts: parts}); err != nil {
		t.Error(err)
	}

	// A fixed-size type leaves all its values out, as one part, or none.
	f, _ := New[big]()
	arr := make([]big, 3)
	arr[2][5] = 1.5
	head, parts, _ = f.AppendHead(nil, arr, nil, 1<<20)
	if len(head) != 0 || len(parts) != 1 || len(parts[0]) != 3<<20 {
		t.Fatalf("fixed: head of %d bytes, %d parts", len(head), len(parts))
	}
	out := make([]big, 3)
	if err := f.DecodeHead(out, head, &queue{parts: parts}); err != nil || out[2][5] != 1.5 {
		t.Fatalf("fixed: %v", err)
	}
	if err := f.DecodeHead(out, head, &queue{parts: [][]byte{make([]byte, 5)}}); err == nil {
		t.Errorf("a part of the wrong size was taken")
	}
}

// A malformed head is refused before anything is made for it, and leaves
// dst alone.
func TestSlicesMalformed(t *testing.T) {
	c, _ := New[[]float64]()
	for name, data := range map[string][]byte{
		"short":        {4 << 1, 1, 2, 3},
		"left over":    {0, 0, 0},
		"huge length":  {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"apart":        {2<<1 | 1, 0},
		"no varint":    {0x80},
		"one of two":   {0},
		"empty apart?": {1, 1},
	} {
		dst := [][]float64{{7}, {8}}
		if err := c.Decode(dst, data); err == nil {
			t.Errorf("%s: accepted %x", name, data)
		}
		if dst[0][0] != 7 || dst[1][0] != 8 {
			t.Errorf("%s: a failed Decode changed dst", name)
		}
	}
}

// What cannot travel raw keeps gob and its errors: pointers inside, an
// unexported field, a uintptr.
func TestRawRefuses(t *testing.T) {
	type hidden struct {
		X float64
		p *float64 //lint:ignore U1000 a pointer inside is what is refused
	}
	type exported struct {
		X float64
		P *float64
	}
	for name, f := range map[string]func() error{
		"[]hidden":     func() error { _, err := New[[]hidden](); return err },
		"[4]hidden":    func() error { _, err := New[[4]hidden](); return err },
		"[]uintptr":    func() error { _, err := New[[]uintptr](); return err },
		"[][2]uintptr": func() error { _, err := New[[][2]uintptr](); return err },
	} {
		err := f()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), "cannot cross ranks") {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, err := New[[]exported]()
	if err != nil || c.Raw() {
		t.Errorf("[]exported (pointers inside): Raw %v, err %v; want gob", c.Raw(), err)
	}
}
