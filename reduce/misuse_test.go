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

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

// noPanic runs f and turns a panic into an error, so that a test of misuse
// reports what went wrong on every rank instead of ending the job.
func noPanic(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s panicked: %v", what, p)
		}
	}()
	return f()
}

// entryPoints calls every collective function of the package on c, with
// arguments that are valid on their own, and returns each call's error by the
// function's name.
func entryPoints(c mpi.Comm) map[string]error {
	errs := make(map[string]error)
	call := func(name string, f func() error) { errs[name] = noPanic(name, f) }
	call("Sum", func() error { _, err := reduce.Sum(c, 1.5); return err })
	call("Min", func() error { _, err := reduce.Min(c, 1); return err })
	call("Max", func() error { _, err := reduce.Max(c, int8(1)); return err })
	call("AllSum", func() error { _, err := reduce.AllSum(c, 1.5); return err })
	call("AllMin", func() error { _, err := reduce.AllMin(c, uint(1)); return err })
	call("AllMax", func() error { _, err := reduce.AllMax(c, float32(1)); return err })
	call("SumSlice", func() error { return reduce.SumSlice(c, make([]int, 2), []int{1, 2}) })
	call("AllSumSlice", func() error { return reduce.AllSumSlice(c, make([]int, 2), []int{1, 2}) })
	call("Func", func() error {
		_, err := reduce.Func(c, "x", func(a, b string) string { return a + b })
		return err
	})
	call("MergeMoments", func() error { _, err := reduce.MergeMoments(c, reduce.Moments{}); return err })
	call("MergeHistogram", func() error {
		_, err := reduce.MergeHistogram(c, reduce.NewHistogram([]float64{0, 1}))
		return err
	})
	return errs
}

// TestNilComm calls every function on the nil Comm that Split gives the ranks
// it leaves out (a negative color): each returns an error that says so, where
// it used to panic; the ranks that Split kept reduce normally on theirs.
func TestNilComm(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		last := c.Size() - 1
		color := 0
		if c.Rank() == last {
			color = -1
		}
		sub, err := c.Split(color, 0)
		if err != nil {
			return err
		}
		if (sub == nil) != (c.Rank() == last) {
			return fmt.Errorf("Split(%d) on rank %d gave %v", color, c.Rank(), sub)
		}
		var wrong []error
		for name, err := range entryPoints(sub) {
			switch {
			case sub != nil && err != nil:
				wrong = append(wrong, fmt.Errorf("%s on a communicator from Split: %v", name, err))
			case sub == nil && (err == nil || !strings.Contains(err.Error(), "reduce: "+name+": nil Comm")):
				wrong = append(wrong, fmt.Errorf("%s on a nil Comm: error %v, want one naming the nil Comm", name, err))
			}
		}
		return errors.Join(wrong...)
	})
}

// TestNilOpOnOneRank gives Func a nil op on the last rank only, then on rank 0
// only, then on every rank, for a gob type and a fixed-size type: every rank
// must return an error naming the first such rank, where the rank with the
// nil op used to return alone and leave rank 0 waiting in Gather for ever.
func TestNilOpOnOneRank(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		concat := func(a, b string) string { return a + b }
		add := func(a, b [2]int) [2]int { return [2]int{a[0] + b[0], a[1] + b[1]} }
		// Every case that fails is reported, not only the first.
		var wrong []error
		for _, bad := range []int{n - 1, 0, -1} { // -1: every rank
			opS, opF := concat, add
			if r == bad || bad == -1 {
				opS, opF = nil, nil
			}
			check := func(what string, err error) {
				want := fmt.Sprintf("rank %d: nil op", max(bad, 0))
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "reduce: Func:") {
					wrong = append(wrong, fmt.Errorf("%s with a nil op on rank %d: rank %d got %v, want an error containing %q", what, bad, r, err, want))
				}
			}
			_, err := reduce.Func(c, "x", opS) // a gob type
			check("Func of a string", err)
			_, err = reduce.Func(c, [2]int{r, 1}, opF) // a fixed-size type
			check("Func of an array", err)
			// The ranks are still in step.
			if got, err := reduce.AllSum(c, 1); err != nil || got != n {
				wrong = append(wrong, fmt.Errorf("AllSum after a nil op on rank %d: %d, %v; want %d", bad, got, err, n))
			}
		}
		return errors.Join(wrong...)
	})
}

// TestMergeHistogramNotMade passes a nil *Histogram, or a zero Histogram, on
// one rank: every rank returns an error that names the rank and what is
// wrong, where nil used to panic and the zero value was reported as "src has
// 0 elements".
func TestMergeHistogramNotMade(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		r, n, last := c.Rank(), c.Size(), c.Size()-1
		var wrong []error // every case that fails, not only the first
		for _, tc := range []struct {
			name string
			h    *reduce.Histogram
			want string
		}{
			{"nil", nil, "is nil"},
			{"zero", &reduce.Histogram{}, "has no bins"},
		} {
			h := reduce.NewHistogram([]float64{0, 1, 2})
			h.Add(0.5)
			if r == last {
				h = tc.h
			}
			var got *reduce.Histogram
			err := noPanic("MergeHistogram", func() (err error) {
				got, err = reduce.MergeHistogram(c, h)
				return err
			})
			want := fmt.Sprintf("reduce: MergeHistogram: the Histogram on rank %d %s", last, tc.want)
			if err == nil || !strings.Contains(err.Error(), want) || got != nil {
				wrong = append(wrong, fmt.Errorf("a %s Histogram on rank %d: rank %d got %v, %v; want an error containing %q", tc.name, last, r, got, err, want))
			} else if strings.Contains(err.Error(), "src has") {
				wrong = append(wrong, fmt.Errorf("a %s Histogram: the error %q speaks of src", tc.name, err))
			}
			if sum, err := reduce.AllSum(c, 1); err != nil || sum != n {
				wrong = append(wrong, fmt.Errorf("AllSum after a %s Histogram: %d, %v; want %d", tc.name, sum, err, n))
			}
		}
		return errors.Join(wrong...)
	})
}

// TestMinMaxNaN puts a NaN on each rank in turn: Min, Max, AllMin and AllMax
// of floating-point values must be NaN, whichever rank has it.
func TestMinMaxNaN(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		r := c.Rank()
		var wrong []error
		for nanRank := range c.Size() {
			x := float64(r + 1)
			if r == nanRank {
				x = math.NaN()
			}
			for _, tc := range []struct {
				name string
				f    func(mpi.Comm, float64) (float64, error)
				all  bool
			}{
				{"Min", reduce.Min[float64], false},
				{"Max", reduce.Max[float64], false},
				{"AllMin", reduce.AllMin[float64], true},
				{"AllMax", reduce.AllMax[float64], true},
			} {
				got, err := tc.f(c, x)
				if err != nil {
					return err
				}
				if (tc.all || r == 0) && !math.IsNaN(got) {
					wrong = append(wrong, fmt.Errorf("%s with a NaN on rank %d: %v on rank %d", tc.name, nanRank, got, r))
				}
			}
			got, err := reduce.AllMin(c, float32(x))
			if err != nil {
				return err
			}
			if !math.IsNaN(float64(got)) {
				wrong = append(wrong, fmt.Errorf("AllMin of float32 with a NaN on rank %d: %v on rank %d", nanRank, got, r))
			}
		}
		return errors.Join(wrong...)
	})
}

// TestSliceMisuseProperty calls SumSlice and AllSumSlice with random
// arguments per rank: src of the common length or not, dst nil, short, long,
// right, src itself, or overlapping src. Every rank must return an error
// exactly when some rank's arguments do not fit; without an error, dst holds
// the sums; with one, neither dst nor src has changed.
func TestSliceMisuseProperty(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		rng := rand.New(rand.NewPCG(5, 6)) // the same draws on every rank
		r, np := c.Rank(), c.Size()
		var wrong []error // every trial that fails, not only the first
		for trial := range 400 {
			all := rng.IntN(2) == 0
			n := rng.IntN(6)
			srcLen := make([]int, np)
			dstKind := make([]int, np)
			for q := range np {
				srcLen[q] = n
				if rng.IntN(8) == 0 {
					srcLen[q] = rng.IntN(6)
				}
				dstKind[q] = rng.IntN(6)
			}
			// Rank r's arguments, in one buffer so that they can overlap.
			buf := make([]int64, 2*srcLen[r]+2)
			src := buf[:srcLen[r]]
			for i := range src {
				src[i] = int64(r*1000 + i)
			}
			var dst []int64
			switch k := dstKind[r]; k {
			case 0: // nil
			case 1, 2: // shorter, longer (when they can be)
				dst = make([]int64, max(0, srcLen[r]+2*k-3))
			case 3: // right
				dst = make([]int64, srcLen[r])
			case 4: // src itself
				dst = src
			case 5: // src shifted by one, sharing all but one element
				dst = buf[1 : 1+srcLen[r]]
			}
			// What every rank expects, from the draws they share.
			wantErr := false
			for q := range np {
				dstLen := map[int]int{0: 0, 1: max(0, srcLen[q]-1), 2: srcLen[q] + 1}[dstKind[q]]
				if dstKind[q] >= 3 {
					dstLen = srcLen[q]
				}
				wantErr = wantErr || srcLen[q] != srcLen[0] || (all || q == 0) && dstLen != srcLen[q]
			}
			before := slices.Clone(buf)
			dstBefore := slices.Clone(dst)
			var err error
			name := "SumSlice"
			if all {
				name = "AllSumSlice"
				err = reduce.AllSumSlice(c, dst, src)
			} else {
				err = reduce.SumSlice(c, dst, src)
			}
			what := fmt.Sprintf("trial %d: %s with src lengths %v, dst kinds %v: rank %d", trial, name, srcLen, dstKind, r)
			switch {
			case wantErr && !errors.Is(err, reduce.ErrMismatch):
				wrong = append(wrong, fmt.Errorf("%s got %v, want an error wrapping ErrMismatch", what, err))
			case wantErr && (!slices.Equal(buf, before) || !slices.Equal(dst, dstBefore)):
				wrong = append(wrong, fmt.Errorf("%s: the error left dst %v and src %v changed", what, dst, src))
			case !wantErr && err != nil:
				wrong = append(wrong, fmt.Errorf("%s got %v", what, err))
			case !wantErr && (all || r == 0):
				for i, got := range dst {
					if want := int64(1000*np*(np-1)/2 + np*i); got != want {
						wrong = append(wrong, fmt.Errorf("%s: dst %v, element %d should be %d", what, dst, i, want))
						break
					}
				}
			case !wantErr && !slices.Equal(buf, before):
				wrong = append(wrong, fmt.Errorf("%s: changed its arguments, which it does not use", what))
			}
		}
		return errors.Join(wrong...)
	})
}
