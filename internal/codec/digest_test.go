package codec

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func digest[T any](t *testing.T, vals []T) string {
	t.Helper()
	var b bytes.Buffer
	if err := Digest(&b, vals); err != nil {
		t.Fatalf("Digest(%T): %v", vals, err)
	}
	return b.String()
}

type padded struct {
	A int8
	B int64
	C int16
}

type withMap struct {
	Name string
	M    map[string]int
	P    *int
}

func TestDigestIgnoresMapOrderAndPadding(t *testing.T) {
	// A map of many keys iterates in another order almost every time.
	m := map[string]int{}
	for i := range 64 {
		m[string(rune('a'+i%26))+strings.Repeat("x", i)] = i
	}
	first := digest(t, []withMap{{Name: "n", M: m}})
	for range 20 {
		if got := digest(t, []withMap{{Name: "n", M: m}}); got != first {
			t.Fatal("the digest of a map changed with its iteration order")
		}
	}
	// Garbage in the padding of one copy must not change the digest.
	a := []padded{{1, 2, 3}, {4, 5, 6}}
	b := make([]padded, 2)
	raw := unsafeBytes(b)
	for i := range raw {
		raw[i] = 0xAA
	}
	for i := range b {
		b[i].A, b[i].B, b[i].C = a[i].A, a[i].B, a[i].C
	}
	if digest(t, a) != digest(t, b) {
		t.Error("padding bytes changed the digest")
	}
}

func TestDigestTellsValuesApart(t *testing.T) {
	one := 1
	cases := []struct {
		name string
		a, b string
	}{
		{"ints", digest(t, []int{1, 2, 3}), digest(t, []int{1, 2, 4})},
		{"length", digest(t, []int{1, 2}), digest(t, []int{1, 2, 0})},
		{"padded", digest(t, []padded{{1, 2, 3}}), digest(t, []padded{{1, 2, 4}})},
		{"strings", digest(t, []string{"ab", "c"}), digest(t, []string{"a", "bc"})},
		{"map values", digest(t, []withMap{{M: map[string]int{"a": 1}}}), digest(t, []withMap{{M: map[string]int{"a": 2}}})},
		{"nil pointer", digest(t, []withMap{{P: &one}}), digest(t, []withMap{{}})},
		{"times", digest(t, []time.Time{time.Unix(1, 0)}), digest(t, []time.Time{time.Unix(2, 0)})},
		{"interfaces", digest(t, []any{int32(1)}), digest(t, []any{int64(1)})},
	}
	for _, c := range cases {
		if c.a == c.b {
			t.Errorf("%s: different values gave the same digest", c.name)
		}
	}
	if digest(t, []withMap{{M: map[string]int{}}}) != digest(t, []withMap{{M: nil}}) {
		t.Error("an empty map and a nil one differ, though they cross ranks alike")
	}
}

func TestDigestRefuses(t *testing.T) {
	var b bytes.Buffer
	if err := Digest(&b, []any{func() {}}); err == nil || !strings.Contains(err.Error(), "func") {
		t.Errorf("a func: got %v, want an error naming it", err)
	}
	type node struct{ Next *node }
	n := &node{}
	n.Next = n
	if err := Digest(&b, []*node{n}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("a cycle: got %v, want an error", err)
	}
}

func TestLayout(t *testing.T) {
	type res struct{ Mean, Err float64 }
	type swapped struct{ Err, Mean float64 }
	type wider struct {
		Mean float64
		Err  float32
	}
	type list struct {
		V    int
		Next *list
	}
	l := Layout(reflect.TypeFor[res]())
	if !strings.Contains(l, "Mean float64") || !strings.Contains(l, "Err float64") {
		t.Errorf("Layout(res) = %q, want its fields", l)
	}
	seen := map[string]bool{}
	for _, typ := range []reflect.Type{reflect.TypeFor[res](), reflect.TypeFor[swapped](), reflect.TypeFor[wider](),
		reflect.TypeFor[[]res](), reflect.TypeFor[[2]res](), reflect.TypeFor[map[string]res](), reflect.TypeFor[list]()} {
		l := Layout(typ)
		if seen[l] {
			t.Errorf("two types share the layout %q", l)
		}
		seen[l] = true
	}
}

func unsafeBytes(p []padded) []byte { return rawBytes(p, int(reflect.TypeFor[padded]().Size())) }

func BenchmarkDigest(b *testing.B) {
	floats := make([]float64, 1<<17)
	b.Run("float64s", func(b *testing.B) {
		b.SetBytes(int64(8 * len(floats)))
		for b.Loop() {
			Digest(discard{}, floats)
		}
	})
	type point struct {
		Index  int
		Coords []int
		Values []float64
	}
	points := make([]point, 1<<12)
	for i := range points {
		points[i] = point{i, []int{i, i}, []float64{1, 2}}
	}
	b.Run("points", func(b *testing.B) {
		for b.Loop() {
			Digest(discard{}, points)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(points)), "ns/point")
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
