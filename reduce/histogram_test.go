package reduce_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

// histData is rank r's data for the histogram tests: some values below,
// above and on the edges of [0, 1], and a NaN on odd ranks.
func histData(r int) []float64 {
	rng := rand.New(rand.NewPCG(7, uint64(r)))
	x := make([]float64, 200+31*r)
	for i := range x {
		x[i] = 1.2*rng.Float64() - 0.1
	}
	x = append(x, 0, 0.5, 1) // 1 is the last edge: counted as over
	if r%2 == 1 {
		x = append(x, math.NaN())
	}
	return x
}

func TestMergeHistogram(t *testing.T) {
	edges := floats.Span(make([]float64, 11), 0, 1)
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		h := reduce.NewHistogram(edges)
		for _, v := range histData(r) {
			h.Add(v)
		}
		before := h.Counts()
		got, err := reduce.MergeHistogram(c, h)
		if err != nil {
			return err
		}
		if !slices.Equal(h.Counts(), before) {
			return fmt.Errorf("MergeHistogram changed the rank's own histogram")
		}
		if r != 0 {
			if got != nil {
				return fmt.Errorf("rank %d got a histogram", r)
			}
			return nil
		}
		// gonum's stat.Histogram of the pooled values in range.
		var in []float64
		var under, over, nans int64
		for q := range n {
			for _, v := range histData(q) {
				switch {
				case math.IsNaN(v):
					nans++
				case v < edges[0]:
					under++
				case v >= edges[len(edges)-1]:
					over++
				default:
					in = append(in, v)
				}
			}
		}
		slices.Sort(in)
		want := stat.Histogram(nil, edges, in, nil)
		counts := got.Counts()
		for i := range want {
			if float64(counts[i]) != want[i] {
				return fmt.Errorf("bin %d: count %d, gonum %v (all: %v, gonum %v)", i, counts[i], want[i], counts, want)
			}
		}
		if got.Under() != under || got.Over() != over || got.NaNs() != nans {
			return fmt.Errorf("under, over, NaN: %d, %d, %d, want %d, %d, %d", got.Under(), got.Over(), got.NaNs(), under, over, nans)
		}
		if total := int64(len(in)) + under + over + nans; got.N() != total {
			return fmt.Errorf("N = %d, want %d", got.N(), total)
		}
		if !slices.Equal(got.Edges(), edges) {
			return fmt.Errorf("edges %v, want %v", got.Edges(), edges)
		}
		return nil
	})
}

func TestMergeHistogramMismatch(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n, last := c.Rank(), c.Size(), c.Size()-1
		var wrong []error // every case that fails, not only the first
		for _, tc := range []struct {
			name  string
			edges []float64 // on the last rank; the others have 0, 1, 2, 3
		}{
			{"a different edge", []float64{0, 1, 2.5, 3}},
			{"one edge more", []float64{0, 1, 2, 3, 4}},
			{"one edge less", []float64{0, 1, 2}},
		} {
			edges := []float64{0, 1, 2, 3}
			if r == last {
				edges = tc.edges
			}
			h := reduce.NewHistogram(edges)
			h.Add(1.5)
			_, err := reduce.MergeHistogram(c, h)
			if n == 1 {
				if err != nil {
					wrong = append(wrong, fmt.Errorf("%s on one rank: %v", tc.name, err))
				}
				continue
			}
			wrong = append(wrong, wantMismatch(c, "MergeHistogram with "+tc.name, err))
		}
		// A zero Histogram on one rank fails on every rank, without a hang.
		h := reduce.NewHistogram([]float64{0, 1})
		if r == last {
			h = &reduce.Histogram{}
		}
		if _, err := reduce.MergeHistogram(c, h); err == nil {
			wrong = append(wrong, fmt.Errorf("MergeHistogram with a zero Histogram on rank %d: no error on rank %d", last, r))
		}
		got, err := reduce.AllSum(c, 1)
		if err != nil || got != n {
			wrong = append(wrong, fmt.Errorf("AllSum after the mismatches: %d, %v; want %d", got, err, n))
		}
		return errors.Join(wrong...)
	})
}

func TestHistogramLocal(t *testing.T) {
	h := reduce.NewHistogram([]float64{math.Inf(-1), -1, 0, 1})
	for _, v := range []float64{math.Inf(-1), -5, -1, -0.5, 0, math.Copysign(0, -1), 0.999, 1, math.Inf(1), math.NaN()} {
		h.Add(v)
	}
	// Bins [-Inf,-1) [-1,0) [0,1); -0 equals 0; 1 and +Inf are over.
	if got, want := h.Counts(), []int64{2, 2, 3}; !slices.Equal(got, want) || h.Under() != 0 || h.Over() != 2 || h.NaNs() != 1 || h.N() != 10 {
		t.Errorf("counts %v (want %v), under %d, over %d, NaN %d, N %d", got, want, h.Under(), h.Over(), h.NaNs(), h.N())
	}

	// Merge adds the counts, and the accessors hand out copies.
	o := reduce.NewHistogram(h.Edges())
	o.Add(-2)
	o.Add(-3)
	h.Merge(o)
	h.Counts()[0] = 100
	h.Edges()[0] = 100
	if got := h.Counts(); got[0] != 4 || h.N() != 12 || h.Edges()[0] != math.Inf(-1) {
		t.Errorf("after Merge: counts %v, N %d, edges %v", got, h.N(), h.Edges())
	}

	for name, f := range map[string]func(){
		"one edge":           func() { reduce.NewHistogram([]float64{0}) },
		"decreasing edges":   func() { reduce.NewHistogram([]float64{0, 2, 1}) },
		"repeated edge":      func() { reduce.NewHistogram([]float64{0, 1, 1}) },
		"NaN edge":           func() { reduce.NewHistogram([]float64{0, math.NaN()}) },
		"Add to a zero":      func() { new(reduce.Histogram).Add(1) },
		"Merge of strangers": func() { h.Merge(reduce.NewHistogram([]float64{0, 1})) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	var zero reduce.Histogram
	if zero.N() != 0 || zero.Under() != 0 || len(zero.Counts()) != 0 {
		t.Errorf("a zero Histogram reports values")
	}
}

// TestHistogramMergeIntoZero totals histograms into a zero Histogram, which
// used to panic "different edges", and merges a nil one, which used to panic
// with a nil dereference and now says what is wrong.
func TestHistogramMergeIntoZero(t *testing.T) {
	a := reduce.NewHistogram([]float64{0, 1, 2})
	a.Add(0.5)
	a.Add(3)
	b := reduce.NewHistogram([]float64{0, 1, 2})
	b.Add(1.5)
	var total reduce.Histogram
	total.Merge(&reduce.Histogram{}) // nothing to take yet
	total.Merge(a)
	total.Merge(&reduce.Histogram{}) // nothing to add
	total.Merge(b)
	if got := total.Counts(); !slices.Equal(got, []int64{1, 1}) || total.Over() != 1 || !slices.Equal(total.Edges(), []float64{0, 1, 2}) {
		t.Errorf("zero Histogram after merging two: counts %v, over %d, edges %v", got, total.Over(), total.Edges())
	}
	if a.N() != 2 || b.N() != 1 {
		t.Errorf("Merge changed its argument: N %d and %d, want 2 and 1", a.N(), b.N())
	}
	total.Add(0.1) // total has its own counts, not a's
	if a.Counts()[0] != 1 {
		t.Errorf("adding to the total changed a: %v", a.Counts())
	}
	defer func() {
		if p, _ := recover().(string); !strings.Contains(p, "nil *Histogram") {
			t.Errorf("Merge of nil: panic %q, want one naming the nil *Histogram", p)
		}
	}()
	total.Merge(nil)
}
