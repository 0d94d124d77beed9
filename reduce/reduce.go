package reduce

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/hpcmap/hpcmap/mpi"
)

// Number is the set of element types that MPI reduces natively. It is the mpi
// package's constraint under a second name, so that the two can never drift
// apart.
type Number = mpi.Number

// ErrMismatch is wrapped by the error that every rank returns when the ranks'
// arguments do not fit together: slices whose lengths differ across ranks, a
// dst whose length is not src's, histograms with different bin edges. It is
// detected before any data is combined, so no rank goes on with a wrong
// result and none is left waiting.
var ErrMismatch = errors.New("arguments do not match")

// Sum returns the sum of x over every rank on rank 0, and the zero value
// elsewhere.
func Sum[T Number](c mpi.Comm, x T) (T, error) { return scalar(c, "Sum", x, mpi.Sum, false) }

// Min returns the least x of any rank on rank 0, and the zero value elsewhere.
// For floating-point types it is NaN if x is NaN on any rank.
func Min[T Number](c mpi.Comm, x T) (T, error) { return scalar(c, "Min", x, mpi.Min, false) }

// Max returns the greatest x of any rank on rank 0, and the zero value
// elsewhere. For floating-point types it is NaN if x is NaN on any rank.
func Max[T Number](c mpi.Comm, x T) (T, error) { return scalar(c, "Max", x, mpi.Max, false) }

// AllSum returns the sum of x over every rank, on every rank.
func AllSum[T Number](c mpi.Comm, x T) (T, error) { return scalar(c, "AllSum", x, mpi.Sum, true) }

// AllMin returns the least x of any rank, on every rank; NaN if x is a
// floating-point NaN on any rank.
func AllMin[T Number](c mpi.Comm, x T) (T, error) { return scalar(c, "AllMin", x, mpi.Min, true) }

// AllMax returns the greatest x of any rank, on every rank; NaN if x is a
// floating-point NaN on any rank.
func AllMax[T Number](c mpi.Comm, x T) (T, error) { return scalar(c, "AllMax", x, mpi.Max, true) }

// SumSlice sets dst[i] on rank 0 to the sum of src[i] over every rank. src
// must have the same length on every rank, and dst on rank 0 the length of
// src; dst is not used on the other ranks and may be nil there. dst and src
// may be the same slice. If the lengths do not fit, every rank returns an
// error wrapping ErrMismatch and dst is unchanged.
func SumSlice[T Number](c mpi.Comm, dst, src []T) error {
	return slice(c, "SumSlice", dst, src, mpi.Sum, false)
}

// AllSumSlice sets dst[i] on every rank to the sum of src[i] over every rank.
// src must have the same length on every rank, and dst the length of src. dst
// and src may be the same slice. If the lengths do not fit, every rank returns
// an error wrapping ErrMismatch and dst is unchanged.
func AllSumSlice[T Number](c mpi.Comm, dst, src []T) error {
	return slice(c, "AllSumSlice", dst, src, mpi.Sum, true)
}

// scalarBufs recycles scalar's src and dst, which escape into the Comm (an
// interface) and would otherwise be allocated on every call: a scan that
// reduces a value per step would make garbage at MPI's rate. It holds *[4]T
// of whatever T was last used; another T allocates its own.
var scalarBufs sync.Pool

// scalar reduces one value. It is a single MPI call, with no length check:
// one element is one element on every rank. AllSum of one float64 is the
// figure benchmarked against C's MPI_Allreduce.
func scalar[T Number](c mpi.Comm, name string, x T, op mpi.Op, all bool) (T, error) {
	var zero T
	if err := checkComm(c, name); err != nil {
		return zero, err
	}
	buf, ok := scalarBufs.Get().(*[4]T)
	if !ok {
		buf = new([4]T)
	}
	defer scalarBufs.Put(buf)
	// A recycled buf holds the last call's values, and the ranks that
	// receive nothing must return zero, not those.
	*buf = [4]T{x}
	src, dst := buf[:1], buf[2:3]
	t := mpi.TypeOf[T]()
	nanFlag := op != mpi.Sum && (t == mpi.Float32 || t == mpi.Float64)
	if nanFlag {
		// MPI compares with C's < and >, which a NaN fails on whichever
		// side it is: it would win or vanish by its rank. So a NaN travels
		// as the infinity that loses, with a flag beside it that wins, in
		// the same call: -1 under Min, 1 under Max.
		src, dst = buf[:2], buf[2:4]
		if x != x {
			buf[0], buf[1] = T(math.Inf(-1)), 1
			if op == mpi.Min {
				buf[0], buf[1] = -buf[0], -buf[1]
			}
		}
	}
	if err := reduceInto(c, dst, src, op, all); err != nil {
		return zero, fmt.Errorf("reduce: %s: %w", name, err)
	}
	if nanFlag && buf[3] != 0 { // zero on the ranks that receive nothing
		return T(math.NaN()), nil
	}
	return buf[2], nil // zero on the ranks that receive nothing
}

// slice reduces src element-wise into dst after checking, collectively, that
// the lengths fit on every rank.
func slice[T Number](c mpi.Comm, name string, dst, src []T, op mpi.Op, all bool) error {
	if err := checkComm(c, name); err != nil {
		return err
	}
	if err := checkLengths(c, len(dst), len(src), all || c.Rank() == 0); err != nil {
		return fmt.Errorf("reduce: %s: %w", name, err)
	}
	if len(src) == 0 {
		return nil // the same on every rank: nothing to send
	}
	if (all || c.Rank() == 0) && overlap(dst, src) {
		// MPI forbids aliased send and receive buffers.
		src = slices.Clone(src)
	}
	if err := reduceInto(c, dst, src, op, all); err != nil {
		return fmt.Errorf("reduce: %s: %w", name, err)
	}
	return nil
}

// checkLengths makes sure, in one collective call, that src has the same
// length on every rank and, where usesDst, that dst has src's length. Every
// rank gets the same answer, so either all go on to reduce or all return an
// error wrapping ErrMismatch.
func checkLengths(c mpi.Comm, dstLen, srcLen int, usesDst bool) error {
	var problem error
	if usesDst && dstLen != srcLen {
		problem = fmt.Errorf("dst has %d elements on rank %d, src %d", dstLen, c.Rank(), srcLen)
	}
	n := int64(srcLen)
	r, verdict, err := agreeOn(c, problem, n)
	switch {
	case err != nil:
		return err
	case verdict != nil:
		return fmt.Errorf("%w: %w", ErrMismatch, verdict)
	case !r[0].Same():
		return fmt.Errorf("%w: src has %d elements on rank %d, from %d to %d across ranks", ErrMismatch, n, c.Rank(), r[0].Min, r[0].Max)
	}
	return nil
}

// maxCount is the most elements one MPI reduction takes: counts are C ints.
// A variable so that tests can exercise the chunked path.
var maxCount = math.MaxInt32

// reduceInto combines src from every rank with op into dst, on every rank if
// all is set and otherwise on rank 0 (dst is unused elsewhere). The caller
// has made sure that src has the same length on every rank. Slices longer
// than one MPI call allows go in chunks, the same on every rank.
func reduceInto[T Number](c mpi.Comm, dst, src []T, op mpi.Op, all bool) error {
	t := mpi.TypeOf[T]()
	for off := 0; off < len(src); {
		end := off + min(maxCount, len(src)-off) // off+maxCount may overflow
		s := mpi.Bytes(src[off:end])
		var d []byte
		if all || c.Rank() == 0 {
			d = mpi.Bytes(dst[off:end])
		}
		var err error
		if all {
			err = c.Allreduce(d, s, t, op)
		} else {
			err = c.Reduce(0, d, s, t, op)
		}
		if err != nil {
			return err
		}
		off = end
	}
	return nil
}

// overlap reports whether a and b share memory.
func overlap[T any](a, b []T) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	size := unsafe.Sizeof(a[0])
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+uintptr(len(b))*size && pb < pa+uintptr(len(a))*size
}
