package codec

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

type point struct {
	x, y float64
	tag  [2]int8
	ok   bool
}

type record struct {
	Name  string
	Vals  []float64
	Attrs map[string]int
	Next  *record
	When  time.Time // has unexported fields, but implements GobEncoder
}

func TestIsFixed(t *testing.T) {
	for _, tc := range []struct {
		v     any
		fixed bool
	}{
		{int8(0), true}, {uint(0), true}, {complex64(0), true}, {false, true},
		{[3]float64{}, true}, {point{}, true}, {struct{}{}, true}, {[2]point{}, true},
		{"", false}, {[]int{}, false}, {map[int]int{}, false}, {new(int), false},
		{uintptr(0), false}, {struct{ S string }{}, false}, {[1][]int{}, false},
	} {
		if got := IsFixed(reflect.TypeOf(tc.v)); got != tc.fixed {
			t.Errorf("IsFixed(%T) = %v, want %v", tc.v, got, tc.fixed)
		}
	}
}

// roundTrip encodes vals after a prefix and decodes them again.
func roundTrip[R any](t *testing.T, vals []R) []R {
	t.Helper()
	c, err := New[R]()
	if err != nil {
		t.Fatalf("New[%T]: %v", vals, err)
	}
	b, err := c.Append([]byte("prefix"), vals)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if !strings.HasPrefix(string(b), "prefix") {
		t.Fatalf("Append lost the prefix")
	}
	out := make([]R, len(vals))
	if err := c.Decode(out, b[len("prefix"):]); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	pts := []point{{1, 2, [2]int8{-1, 1}, true}, {x: 3}}
	if got := roundTrip(t, pts); !reflect.DeepEqual(got, pts) {
		t.Errorf("fixed: got %+v, want %+v", got, pts)
	}
	if c, _ := New[point](); !c.Fixed() {
		t.Errorf("point does not travel as memory")
	}
	when := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	recs := []record{{Name: "a", Vals: []float64{1.5}, Attrs: map[string]int{"k": 2}, Next: &record{Name: "b"}, When: when}}
	got := roundTrip(t, recs)
	if got[0].Name != "a" || got[0].Vals[0] != 1.5 || got[0].Attrs["k"] != 2 || got[0].Next.Name != "b" || !got[0].When.Equal(when) {
		t.Errorf("gob: got %+v", got[0])
	}
	ifaces := []any{1, "two", 3.0}
	if got := roundTrip(t, ifaces); !reflect.DeepEqual(got, ifaces) {
		t.Errorf("interfaces: got %#v, want %#v", got, ifaces)
	}
}

// Nil pointers and interfaces come back nil, and only they: gob alone can
// encode neither, and makes a pointer to a zero value nil.
func TestNilValues(t *testing.T) {
	one, zero := 1, 0
	ptrs := []*int{nil, &one, &zero, nil, nil, nil, nil, nil, &one}
	got := roundTrip(t, ptrs)
	for i, p := range ptrs {
		if (p == nil) != (got[i] == nil) || p != nil && *p != *got[i] {
			t.Errorf("pointer %d: got %v, want %v", i, got[i], p)
		}
	}
	ifaces := []any{nil, 2, nil}
	if got := roundTrip(t, ifaces); !reflect.DeepEqual(got, ifaces) {
		t.Errorf("interfaces: got %#v, want %#v", got, ifaces)
	}
	c, _ := New[*int]()
	b, _ := c.Append(nil, []*int{nil, &one})
	if err := c.Decode(make([]*int, 3), b); err == nil {
		t.Errorf("two pointers decoded as three")
	}
}

func TestRefused(t *testing.T) {
	type hidden struct {
		Shown int
		s     string //lint:ignore U1000 the unexported field is what New refuses
	}
	type withFunc struct{ F func() }
	type nested struct{ In []withFunc }
	for name, f := range map[string]func() error{
		"unexported field": func() error { _, err := New[hidden](); return err },
		"func field":       func() error { _, err := New[withFunc](); return err },
		"nested func":      func() error { _, err := New[nested](); return err },
		"chan":             func() error { _, err := New[chan int](); return err },
		"uintptr in slice": func() error { _, err := New[[]uintptr](); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	// Values that only fail when encoded or decoded.
	a, _ := New[any]()
	if _, err := a.Append(nil, []any{make(chan int)}); err == nil {
		t.Errorf("a chan in an interface encoded")
	}
	p, _ := New[point]()
	if err := p.Decode(make([]point, 2), make([]byte, 5)); err == nil {
		t.Errorf("5 bytes decoded as two points")
	}
	b, _ := a.Append(nil, []any{1, 2})
	if err := a.Decode(make([]any, 3), b); err == nil {
		t.Errorf("two values decoded as three")
	}
}
