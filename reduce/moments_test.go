package reduce_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

// rankData is the data of rank r: a different count on each rank, none at
// all on rank 1, drawn around offset + r*shift with spread scale.
func rankData(r int, offset, shift, scale float64) []float64 {
	if r == 1 {
		return nil
	}
	rng := rand.New(rand.NewPCG(42, uint64(r)))
	x := make([]float64, 50+137*r%500)
	for i := range x {
		x[i] = offset + float64(r)*shift + scale*rng.NormFloat64()
	}
	return x
}

// relErr is |got-want|/|want|, or |got| when want is 0.
func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// checkMoments compares m with gonum's statistics of x.
func checkMoments(m reduce.Moments, x []float64, tol float64) error {
	if m.N() != int64(len(x)) {
		return fmt.Errorf("N = %d, want %d", m.N(), len(x))
	}
	mean, variance := stat.MeanVariance(x, nil)
	if e := relErr(m.Mean(), mean); !(e <= tol) {
		return fmt.Errorf("Mean = %v, gonum %v: relative error %.3g", m.Mean(), mean, e)
	}
	if e := relErr(m.Variance(), variance); !(e <= tol) {
		return fmt.Errorf("Variance = %v, gonum %v: relative error %.3g", m.Variance(), variance, e)
	}
	if e := relErr(m.StdErr(), stat.StdErr(math.Sqrt(variance), float64(len(x)))); !(e <= tol) {
		return fmt.Errorf("StdErr = %v: relative error %.3g", m.StdErr(), e)
	}
	if m.Min() != slices.Min(x) || m.Max() != slices.Max(x) {
		return fmt.Errorf("Min, Max = %v, %v, want %v, %v", m.Min(), m.Max(), slices.Min(x), slices.Max(x))
	}
	return nil
}

func TestMergeMoments(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		for _, tc := range []struct {
			name                 string
			offset, shift, scale float64
		}{
			{"standard", 0, 1, 1},
			{"far from zero", 1e6, 1, 1},
			{"very far from zero", 1e8, 0, 1e-2}, // mean/sd = 1e10: plain Welford is off by 4e-7
			{"tiny spread", -3, 1e-9, 1e-9},
		} {
			var pooled []float64
			for q := range n {
				pooled = append(pooled, rankData(q, tc.offset, tc.shift, tc.scale)...)
			}
			mine := rankData(r, tc.offset, tc.shift, tc.scale)
			// One value at a time, and as a batch through gonum.
			var one, batch reduce.Moments
			for _, v := range mine {
				one.Add(v)
			}
			batch.AddSlice(mine)
			for _, m := range []struct {
				how string
				m   reduce.Moments
			}{{"Add", one}, {"AddSlice", batch}} {
				got, err := reduce.MergeMoments(c, m.m)
				if err != nil {
					return err
				}
				if r != 0 {
					if got != (reduce.Moments{}) {
						return fmt.Errorf("rank %d got %+v, want the zero value", r, got)
					}
					continue
				}
				if err := checkMoments(got, pooled, 1e-12); err != nil {
					return fmt.Errorf("%s data, %s, %d ranks: %v", tc.name, m.how, n, err)
				}
			}
		}

		// Every rank empty: the merge is empty too.
		got, err := reduce.MergeMoments(c, reduce.Moments{})
		if err != nil {
			return err
		}
		if got.N() != 0 || !math.IsNaN(got.Mean()) || !math.IsNaN(got.Variance()) {
			return fmt.Errorf("merge of empty moments: N %d, mean %v, variance %v", got.N(), got.Mean(), got.Variance())
		}
		return nil
	})
}

func TestMomentsLocal(t *testing.T) {
	x := rankData(3, 10, 0, 2)

	// Merging the two halves equals adding everything, whatever the split,
	// and merging with an empty Moments on either side changes nothing.
	for _, split := range []int{0, 1, len(x) / 3, len(x) - 1, len(x)} {
		var a, b reduce.Moments
		a.AddSlice(x[:split])
		for _, v := range x[split:] {
			b.Add(v)
		}
		a.Merge(b)
		a.Merge(reduce.Moments{})
		var m reduce.Moments
		m.Merge(a)
		if err := checkMoments(m, x, 1e-13); err != nil {
			t.Errorf("split at %d: %v", split, err)
		}
	}

	// Too few values for a variance, or for a mean: NaN, as gonum.
	var m reduce.Moments
	for _, f := range []func() float64{m.Mean, m.Variance, m.StdDev, m.StdErr, m.Min, m.Max} {
		if !math.IsNaN(f()) {
			t.Errorf("an empty Moments gives %v, want NaN", f())
		}
	}
	m.Add(2.5)
	if m.N() != 1 || m.Mean() != 2.5 || m.Min() != 2.5 || m.Max() != 2.5 || !math.IsNaN(m.Variance()) {
		t.Errorf("one value: N %d, mean %v, min %v, max %v, variance %v", m.N(), m.Mean(), m.Min(), m.Max(), m.Variance())
	}
	if v := stat.Variance([]float64{2.5}, nil); !math.IsNaN(v) {
		t.Errorf("gonum's variance of one value is %v: Moments no longer agrees", v)
	}

	// An infinity is the mean, as in gonum, and the maximum; the variance
	// is undefined (NaN).
	for _, add := range []func(*reduce.Moments){
		func(m *reduce.Moments) { m.Add(math.Inf(1)) },
		func(m *reduce.Moments) { m.AddSlice([]float64{1, math.Inf(1), 3}) },
	} {
		var m reduce.Moments
		m.AddSlice([]float64{1, 2})
		add(&m)
		m.Add(4)
		if !math.IsInf(m.Mean(), 1) || !math.IsNaN(m.Variance()) || m.Min() != 1 || !math.IsInf(m.Max(), 1) {
			t.Errorf("after an infinity: mean %v, variance %v, min %v, max %v", m.Mean(), m.Variance(), m.Min(), m.Max())
		}
	}

	// A NaN makes everything NaN, whichever way it comes in.
	for _, add := range []func(*reduce.Moments){
		func(m *reduce.Moments) { m.Add(math.NaN()) },
		func(m *reduce.Moments) { m.AddSlice([]float64{1, math.NaN(), 3}) },
	} {
		var m reduce.Moments
		m.AddSlice([]float64{1, 2})
		add(&m)
		for _, v := range []float64{m.Mean(), m.Variance(), m.Min(), m.Max()} {
			if !math.IsNaN(v) {
				t.Errorf("after a NaN: mean %v, variance %v, min %v, max %v", m.Mean(), m.Variance(), m.Min(), m.Max())
				break
			}
		}
	}
}
