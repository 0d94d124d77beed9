package reduce_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

func TestMain(m *testing.M) { mpitest.Main(m) }

var sizes = []int{1, 2, 3, 4, 7}

// scalarCase checks the six scalar reductions of one type against a Go
// reduction of the values every rank contributes. A wrong value does not stop
// it: every rank makes the same calls, whatever it finds.
func scalarCase[T reduce.Number](c mpi.Comm, value func(rank int) T) error {
	r, n := c.Rank(), c.Size()
	sum, lo, hi := value(0), value(0), value(0)
	for q := 1; q < n; q++ {
		v := value(q)
		sum += v
		lo, hi = min(lo, v), max(hi, v)
	}
	x := value(r)
	var wrong []error
	for _, tc := range []struct {
		name string
		f    func(mpi.Comm, T) (T, error)
		want T
		all  bool
	}{
		{"Sum", reduce.Sum[T], sum, false},
		{"Min", reduce.Min[T], lo, false},
		{"Max", reduce.Max[T], hi, false},
		{"AllSum", reduce.AllSum[T], sum, true},
		{"AllMin", reduce.AllMin[T], lo, true},
		{"AllMax", reduce.AllMax[T], hi, true},
	} {
		got, err := tc.f(c, x)
		if err != nil {
			return err
		}
		want := tc.want
		if !tc.all && r != 0 {
			want = 0 // the zero value off rank 0
		}
		if got != want {
			wrong = append(wrong, fmt.Errorf("%s of %T on rank %d: got %v, want %v", tc.name, x, r, got, want))
		}
	}
	return errors.Join(wrong...)
}

// myFloat checks that the constraint admits defined types (~float64).
type myFloat float64

func TestScalars(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		// Values that no type overflows at np=8, and that sum exactly in
		// floating point whatever order MPI adds them in. The middle rank
		// has the extreme values, so that neither rank 0 nor the last wins
		// by position.
		mid := c.Size() / 2
		skew := func(r int) int { return (r - mid) * (r - mid) * (2*(r%2) - 1) }
		return errors.Join(
			scalarCase(c, func(r int) int8 { return int8(skew(r)) }),
			scalarCase(c, func(r int) int16 { return int16(300 * skew(r)) }),
			scalarCase(c, func(r int) int32 { return int32(70000 * skew(r)) }),
			scalarCase(c, func(r int) int64 { return int64(skew(r)) << 40 }),
			scalarCase(c, func(r int) int { return skew(r) - 5 }),
			scalarCase(c, func(r int) uint8 { return uint8(skew(r) + 9) }),
			scalarCase(c, func(r int) uint16 { return uint16(skew(r)+9) * 700 }),
			scalarCase(c, func(r int) uint32 { return uint32(skew(r)+9) << 20 }),
			scalarCase(c, func(r int) uint64 { return uint64(skew(r)+9) << 50 }),
			scalarCase(c, func(r int) uint { return uint(skew(r) + 9) }),
			scalarCase(c, func(r int) float32 { return float32(skew(r)) / 4 }),
			scalarCase(c, func(r int) float64 { return float64(skew(r)) * 0.125 }),
			scalarCase(c, func(r int) myFloat { return myFloat(skew(r)) - 0.5 }),
		)
	})
}

// TestZeroOffRoot calls Sum after AllSum, again and again: the ranks other
// than 0 must get zero from Sum, whatever the previous call left behind.
func TestZeroOffRoot(t *testing.T) {
	mpitest.Worlds(t, []int{2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for i := range 50 {
			if _, err := reduce.AllSum(c, 1.5); err != nil {
				return err
			}
			got, err := reduce.Sum(c, 2.5)
			if err != nil {
				return err
			}
			want := 2.5 * float64(c.Size())
			if c.Rank() != 0 {
				want = 0
			}
			if got != want {
				return fmt.Errorf("call %d: Sum on rank %d: got %v, want %v", i, c.Rank(), got, want)
			}
		}
		return nil
	})
}

func TestOverflowWraps(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		// Unsigned overflow wraps in Go and in C alike (see the package
		// documentation; signed overflow is undefined in C, so not tested).
		got, err := reduce.AllSum(c, uint8(200))
		if err != nil {
			return err
		}
		if want := uint8(200 * c.Size() % 256); got != want {
			return fmt.Errorf("AllSum of uint8(200) on %d ranks: got %d, want %d", c.Size(), got, want)
		}
		return nil
	})
}

func TestSlices(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		const length = 10
		src := make([]float64, length)
		want := make([]float64, length)
		for i := range src {
			src[i] = float64(r*i) - 0.25*float64(i%3) // exact in any order
			for q := range n {
				want[i] += float64(q*i) - 0.25*float64(i%3)
			}
		}
		check := func(name string, got []float64, onRank bool) error {
			if onRank && !slices.Equal(got, want) {
				return fmt.Errorf("%s on rank %d: got %v, want %v", name, r, got, want)
			}
			return nil
		}

		var wrong []error // every check that fails, not only the first
		dst := make([]float64, length)
		if err := reduce.AllSumSlice(c, dst, src); err != nil {
			return err
		}
		wrong = append(wrong, check("AllSumSlice", dst, true))

		// SumSlice with a nil dst off rank 0.
		var dst0 []float64
		if r == 0 {
			dst0 = make([]float64, length)
		}
		if err := reduce.SumSlice(c, dst0, src); err != nil {
			return errors.Join(append(wrong, err)...)
		}
		wrong = append(wrong, check("SumSlice", dst0, r == 0))

		// In place: dst is src.
		in := slices.Clone(src)
		if err := reduce.AllSumSlice(c, in, in); err != nil {
			return errors.Join(append(wrong, err)...)
		}
		wrong = append(wrong, check("AllSumSlice in place", in, true))
		in = slices.Clone(src)
		if err := reduce.SumSlice(c, in, in); err != nil {
			return errors.Join(append(wrong, err)...)
		}
		wrong = append(wrong, check("SumSlice in place", in, r == 0))
		if r != 0 && !slices.Equal(in, src) {
			wrong = append(wrong, fmt.Errorf("SumSlice in place changed src on rank %d", r))
		}

		// Empty slices on every rank: nothing to do, no error.
		if err := reduce.AllSumSlice(c, []int32{}, nil); err != nil {
			wrong = append(wrong, fmt.Errorf("AllSumSlice of empty slices: %v", err))
		}
		if err := reduce.SumSlice[uint16](c, nil, nil); err != nil {
			wrong = append(wrong, fmt.Errorf("SumSlice of nil slices: %v", err))
		}

		// An integer type.
		isrc := []int64{int64(r), -int64(r), 1 << 40}
		idst := make([]int64, 3)
		if err := reduce.AllSumSlice(c, idst, isrc); err != nil {
			return errors.Join(append(wrong, err)...)
		}
		if s := int64(n * (n - 1) / 2); !slices.Equal(idst, []int64{s, -s, int64(n) << 40}) {
			wrong = append(wrong, fmt.Errorf("AllSumSlice of int64 on rank %d: %v", r, idst))
		}
		return errors.Join(wrong...)
	})
}

func TestSlicesInChunks(t *testing.T) {
	// Slices longer than one MPI call takes (2³¹-1 elements) go in chunks:
	// here chunks of 3, 3, 3 and 1. The limit is shared by Local's ranks,
	// so it is set around the whole world, not inside a rank.
	defer reduce.SetMaxCount(3)()
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		src := make([]int64, 10)
		for i := range src {
			src[i] = int64(i*n + r)
		}
		all := make([]int64, len(src))
		if err := reduce.AllSumSlice(c, all, src); err != nil {
			return err
		}
		var dst []int64
		if r == 0 {
			dst = make([]int64, len(src))
		}
		if err := reduce.SumSlice(c, dst, src); err != nil {
			return err
		}
		for i, got := range all {
			want := int64(i*n*n + n*(n-1)/2)
			if got != want || (r == 0 && dst[i] != want) {
				return fmt.Errorf("element %d on rank %d: AllSumSlice %d, SumSlice %v, want %d", i, r, got, dst, want)
			}
		}
		return nil
	})
}

// wantMismatch checks that err, returned on this rank, reports a mismatch.
func wantMismatch(c mpi.Comm, what string, err error) error {
	if !errors.Is(err, reduce.ErrMismatch) {
		return fmt.Errorf("%s: rank %d got error %v, want one wrapping ErrMismatch", what, c.Rank(), err)
	}
	return nil
}

func TestSliceLengthMismatch(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n, last := c.Rank(), c.Size(), c.Size()-1
		var wrong []error // every case that fails, not only the first

		// src one element longer on the last rank: an error on every rank,
		// never a hang or a partial sum, when there is more than one rank.
		src := make([]float64, 4, 5)
		for i := range src {
			src[i] = 1
		}
		if r == last && n > 1 {
			src = append(src, 1)
		}
		dst := []float64{-1, -1, -1, -1, -1}[:len(src)]
		for _, tc := range []struct {
			name string
			f    func(mpi.Comm, []float64, []float64) error
		}{{"SumSlice", reduce.SumSlice[float64]}, {"AllSumSlice", reduce.AllSumSlice[float64]}} {
			err := tc.f(c, dst, src)
			if n == 1 {
				if err != nil {
					wrong = append(wrong, fmt.Errorf("%s on one rank: %v", tc.name, err))
				}
				continue
			}
			wrong = append(wrong, wantMismatch(c, tc.name+" with src lengths differing", err))
			if slices.ContainsFunc(dst, func(v float64) bool { return v != -1 }) {
				wrong = append(wrong, fmt.Errorf("%s changed dst to %v on rank %d despite the error", tc.name, dst, r))
			}
		}

		// Equal src, but rank 0's dst too short for SumSlice: every rank
		// learns it. Other ranks' dst does not matter there.
		src = []float64{1, 2, 3}
		var short []float64
		if r == 0 {
			short = make([]float64, 2)
		}
		err := reduce.SumSlice(c, short, src)
		wrong = append(wrong, wantMismatch(c, "SumSlice with a short dst on rank 0", err))
		// A nil dst on rank 0 is too short as well.
		err = reduce.SumSlice(c, nil, src)
		wrong = append(wrong, wantMismatch(c, "SumSlice with a nil dst on rank 0", err))

		// AllSumSlice with a long dst on the last rank only.
		long := make([]float64, 3)
		if r == last {
			long = make([]float64, 4)
		}
		err = reduce.AllSumSlice(c, long, src)
		wrong = append(wrong, wantMismatch(c, "AllSumSlice with a long dst on the last rank", err))

		// The ranks are still in step: a reduction after the errors works.
		got, err := reduce.AllSum(c, 1)
		if err != nil || got != n {
			wrong = append(wrong, fmt.Errorf("AllSum after the mismatches: %d, %v; want %d", got, err, n))
		}
		return errors.Join(wrong...)
	})
}
