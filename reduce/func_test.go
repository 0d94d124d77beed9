package reduce_test

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

// fixed is a fixed-size type with unexported fields, an array, a bool and a
// complex number: it crosses ranks as raw memory, where gob would drop the
// unexported fields.
type fixed struct {
	digits int64 // the ranks' numbers in the order op saw them
	sum    [2]float32
	odd    bool
	z      complex128
	_      [3]byte // padding of no interest
}

// general needs gob: a string, a slice, a map and a pointer.
type general struct {
	Order []int
	Names map[string]int
	Label string
	Best  *float64
}

// shape is registered with gob so that it can travel in an interface.
type shape struct{ Sides int }

func init() { gob.Register(shape{}) }

func TestFuncFixedSize(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		x := fixed{digits: int64(r + 1), sum: [2]float32{float32(r), -1}, odd: r%2 == 1, z: complex(0, float64(r))}
		// Not commutative: the digits record the order in which op was applied.
		got, err := reduce.Func(c, x, func(a, b fixed) fixed {
			return fixed{
				digits: a.digits*10 + b.digits,
				sum:    [2]float32{a.sum[0] + b.sum[0], a.sum[1] + b.sum[1]},
				odd:    a.odd || b.odd,
				z:      a.z + b.z,
			}
		})
		if err != nil {
			return err
		}
		if r != 0 {
			if got != (fixed{}) {
				return fmt.Errorf("rank %d got %+v, want the zero value", r, got)
			}
			return nil
		}
		var want fixed
		for q := range n {
			want.digits = want.digits*10 + int64(q+1)
			want.sum[0] += float32(q)
			want.sum[1]--
			want.z += complex(0, float64(q))
		}
		want.odd = n > 1
		if got != want {
			return fmt.Errorf("got %+v, want %+v", got, want)
		}
		return nil
	})
}

func TestFuncGeneral(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()

		// A string, concatenated in rank order.
		s, err := reduce.Func(c, strconv.Itoa(r), func(a, b string) string { return a + "," + b })
		if err != nil {
			return err
		}
		var ranks []string
		for q := range n {
			ranks = append(ranks, strconv.Itoa(q))
		}
		if want := strings.Join(ranks, ","); r == 0 && s != want {
			return fmt.Errorf("strings: got %q, want %q", s, want)
		}

		// A struct with a slice, a map and a pointer; rank 1's pointer is
		// to the largest value. (Not to a zero: gob sends a pointer to a
		// zero value as a nil pointer.)
		best := float64(-r*r - 1)
		if r == 1 {
			best = 100
		}
		x := general{Order: []int{r}, Names: map[string]int{"rank" + strconv.Itoa(r): r}, Label: "r" + strconv.Itoa(r), Best: &best}
		g, err := reduce.Func(c, x, func(a, b general) general {
			maps.Copy(a.Names, b.Names)
			if *b.Best > *a.Best {
				a.Best = b.Best
			}
			return general{Order: append(a.Order, b.Order...), Names: a.Names, Label: a.Label + b.Label, Best: a.Best}
		})
		if err != nil {
			return err
		}
		if r == 0 {
			wantBest := -1.0
			if n > 1 {
				wantBest = 100
			}
			wantLabel := "r" + strings.Join(ranks, "r")
			if !slices.Equal(g.Order, seq(n)) || len(g.Names) != n || g.Names["rank"+strconv.Itoa(n-1)] != n-1 ||
				g.Label != wantLabel || g.Best == nil || *g.Best != wantBest {
				return fmt.Errorf("struct: got %+v (best %v)", g, deref(g.Best))
			}
		} else if !reflect.DeepEqual(g, general{}) {
			return fmt.Errorf("struct: rank %d got %+v, want the zero value", r, g)
		}

		// An interface type, with a value of a registered type on one rank.
		var v any = r
		if r == n-1 {
			v = shape{Sides: 3}
		}
		vals, err := reduce.Func(c, []any{v}, func(a, b []any) []any { return append(a, b...) })
		if err != nil {
			return err
		}
		if r == 0 {
			want := make([]any, n)
			for q := range n - 1 {
				want[q] = q
			}
			want[n-1] = shape{Sides: 3}
			if !reflect.DeepEqual(vals, want) {
				return fmt.Errorf("interfaces: got %#v, want %#v", vals, want)
			}
		}
		return nil
	})
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestFuncErrors(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		last := n - 1
		// Every rank must get an error, with the same text, naming the
		// rank that failed and the type.
		// failing is the rank whose value failed, -1 for a type refused
		// everywhere.
		wantError := func(what string, err error, failing int, words ...string) error {
			if err == nil {
				return fmt.Errorf("%s: no error on rank %d", what, r)
			}
			words = append(words, "reduce: Func:")
			if failing >= 0 {
				words = append(words, fmt.Sprintf("rank %d", failing))
			}
			for _, s := range words {
				if !strings.Contains(err.Error(), s) {
					return fmt.Errorf("%s: error %q on rank %d does not mention %q", what, err, r, s)
				}
			}
			return nil
		}

		// A channel on the last rank only, in an interface.
		var v any = r
		if r == last {
			v = make(chan int)
		}
		_, err := reduce.Func(c, v, func(a, b any) any { panic("op called despite the error") })
		if err := wantError("a channel", err, last, "interface {}"); err != nil {
			return err
		}
		if r == last && errors.Unwrap(errors.Unwrap(err)) == nil {
			return fmt.Errorf("the failing rank's error does not wrap gob's: %v", err)
		}

		// A nil pointer on rank 0 only crosses as nil: op sees it.
		p := new(int)
		if r == 0 {
			p = nil
		}
		first, err := reduce.Func(c, p, func(a, b *int) *int {
			if a == nil {
				return b
			}
			return a
		})
		if err != nil || r == 0 && (n > 1) != (first != nil) {
			return fmt.Errorf("a nil pointer on rank 0: got %v, %v", first, err)
		}

		// Values that cannot cross on every rank: the error spells out the
		// first three.
		_, err = reduce.Func(c, any(make(chan int)), func(a, b any) any { return a })
		if err := wantError("channels everywhere", err, 0, "interface {}"); err != nil {
			return err
		}
		if more := fmt.Sprintf("and %d more ranks", n-3); n > 3 && !strings.HasSuffix(err.Error(), more) {
			return fmt.Errorf("error %q of %d ranks does not end in %q", err, n, more)
		}

		// Types that gob would refuse or damage: refused on every rank
		// before anything is sent, naming the type and the field.
		type hidden struct {
			Shown  []int
			hidden []int
		}
		_, err = reduce.Func(c, hidden{Shown: []int{1}, hidden: []int{2}}, func(a, b hidden) hidden { return a })
		if err := wantError("an unexported field", err, -1, "reduce_test.hidden", "field hidden"); err != nil {
			return err
		}
		type withChan struct{ C chan int }
		_, err = reduce.Func(c, withChan{}, func(a, b withChan) withChan { return a })
		if err := wantError("a channel field", err, -1, "reduce_test.withChan", "chan int"); err != nil {
			return err
		}

		// A nil op on every rank is refused on every rank.
		if _, err := reduce.Func[int](c, 1, nil); err == nil {
			return errors.New("Func with a nil op: no error")
		}

		// The ranks are still in step.
		got, err := reduce.AllSum(c, 1)
		if err != nil || got != n {
			return fmt.Errorf("AllSum after the errors: %d, %v; want %d", got, err, n)
		}
		return nil
	})
}
