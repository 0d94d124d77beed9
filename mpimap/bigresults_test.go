package mpimap_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
	"github.com/hpcmap/hpcmap/reduce"
)

// Results of any size cross ranks: over the 64 KiB a channel can carry, and
// as large as an image, as arrays, slices and structs holding arrays.
type (
	over64k  [1<<13 + 1]float64 // 64 KiB + 8 bytes
	mebibyte [1 << 17]float64   // 1 MiB
	frame64k struct {           // 64 KiB + 8 bytes, a struct holding an array
		Step int64
		Grid [1 << 13]float64
	}
	frame1m struct { // 1 MiB
		Step int64
		Img  [1<<17 - 1]float64
	}
)

// fill writes task i's values into dst; filled checks them. Neither is
// instrumented by the race detector, which would make them the slowest part
// of the test by far: the library's copies of the results still are.
//
//go:norace
func fill(dst []float64, i int) {
	for k := range dst {
		dst[k] = float64(i)*1e7 + float64(k)
	}
}

//go:norace
func filled(got []float64, i int) error {
	for k, v := range got {
		if want := float64(i)*1e7 + float64(k); v != want {
			return fmt.Errorf("result %d: element %d of %d is %v, want %v", i, k, len(got), v, want)
		}
	}
	return nil
}

// bigCase is a result type, with how task i makes its result and how rank 0
// checks it, run through maps of every schedule.
type bigCase struct {
	name string
	mib  bool // of a megabyte: slow to check for races
	// run maps n tasks with opts, and with each set hands the results to a
	// sink too.
	run func(ctx context.Context, c mpi.Comm, n int, each bool, opts []mpimap.Option) error
}

// caseOf is the case of results made by make and checked by check, which
// takes them by pointer: under the race detector, copying a megabyte is
// slow.
func caseOf[R any](name string, make func(i int) R, check func(i int, r *R) error) bigCase {
	return bigCase{name, strings.Contains(name, "MiB"), func(ctx context.Context, c mpi.Comm, n int, each bool, opts []mpimap.Option) error {
		fn := func(_ context.Context, i int) (R, error) { return make(i), nil }
		got, err := mpimap.MapN(ctx, c, n, fn, opts...)
		if err != nil {
			return err
		}
		if c.Rank() == 0 {
			if len(got) != n {
				return fmt.Errorf("%d results of %d tasks", len(got), n)
			}
			for i := range got {
				if err := check(i, &got[i]); err != nil {
					return err
				}
			}
		}
		if !each {
			return nil
		}
		seen := 0
		err = mpimap.EachN(ctx, c, n, fn, func(i int, r R) error {
			seen++
			return check(i, &r)
		}, opts...)
		if err != nil {
			return fmt.Errorf("EachN: %w", err)
		}
		if c.Rank() == 0 && seen != n {
			return fmt.Errorf("EachN: the sink saw %d results of %d", seen, n)
		}
		return nil
	}}
}

// lengthOf is the length of task i's slice in the cases whose lengths
// differ: some nil, some empty, some inside their report, some sent apart.
func lengthOf(i int) int {
	switch i % 7 {
	case 0, 1:
		return 0
	case 2:
		return 3
	}
	return i * 7919 % 40000
}

// sliceOf is task i's slice of length lengthOf(i): nil or empty for 0.
func sliceOf(i int) []float64 {
	if i%7 == 0 {
		return nil
	}
	s := make([]float64, lengthOf(i), lengthOf(i)+i%3)
	fill(s, i)
	return s
}

// checkSlice checks a slice of task i: of its length, nil if empty.
func checkSlice(i int, p *[]float64) error {
	r := *p
	if len(r) != lengthOf(i) || len(r) == 0 && r != nil {
		return fmt.Errorf("result %d: length %d (nil %v), want %d (nil if 0)", i, len(r), r == nil, lengthOf(i))
	}
	return filled(r, i)
}

var bigCases = []bigCase{
	caseOf("array 64KiB+8", func(i int) (r over64k) { fill(r[:], i); return },
		func(i int, r *over64k) error { return filled(r[:], i) }),
	caseOf("array 1MiB", func(i int) (r mebibyte) { fill(r[:], i); return },
		func(i int, r *mebibyte) error { return filled(r[:], i) }),
	caseOf("slice 64KiB+8", func(i int) []float64 { s := make([]float64, 1<<13+1); fill(s, i); return s },
		func(i int, r *[]float64) error {
			if len(*r) != 1<<13+1 {
				return fmt.Errorf("result %d of length %d", i, len(*r))
			}
			return filled(*r, i)
		}),
	caseOf("slice 1MiB", func(i int) []float64 { s := make([]float64, 1<<17); fill(s, i); return s },
		func(i int, r *[]float64) error {
			if len(*r) != 1<<17 {
				return fmt.Errorf("result %d of length %d", i, len(*r))
			}
			return filled(*r, i)
		}),
	caseOf("struct 64KiB+8", func(i int) (r frame64k) { r.Step = int64(i); fill(r.Grid[:], i); return },
		func(i int, r *frame64k) error {
			if r.Step != int64(i) {
				return fmt.Errorf("result %d: step %d", i, r.Step)
			}
			return filled(r.Grid[:], i)
		}),
	caseOf("struct 1MiB", func(i int) (r frame1m) { r.Step = int64(i); fill(r.Img[:], i); return },
		func(i int, r *frame1m) error {
			if r.Step != int64(i) {
				return fmt.Errorf("result %d: step %d", i, r.Step)
			}
			return filled(r.Img[:], i)
		}),
	caseOf("slice of lengths differing", sliceOf, checkSlice),
	caseOf("[][3]float32 of lengths differing", func(i int) [][3]float32 {
		if i%7 == 1 {
			return [][3]float32{}
		}
		s := make([][3]float32, lengthOf(i))
		for k := range s {
			s[k] = [3]float32{float32(i), float32(k), -1}
		}
		return s
	}, func(i int, r *[][3]float32) error {
		if len(*r) != lengthOf(i) || len(*r) == 0 && *r != nil {
			return fmt.Errorf("result %d: length %d (nil %v), want %d", i, len(*r), *r == nil, lengthOf(i))
		}
		for k, v := range *r {
			if v != [3]float32{float32(i), float32(k), -1} {
				return fmt.Errorf("result %d: element %d is %v", i, k, v)
			}
		}
		return nil
	}),
}

// bigLayouts are the schedules and settings the cases run under.
var bigLayouts = []struct {
	name string
	each bool // EachN too
	opts []mpimap.Option
}{
	{"block", true, []mpimap.Option{mpimap.WithSchedule(mpimap.Block)}},
	{"cyclic", true, []mpimap.Option{mpimap.WithSchedule(mpimap.Cyclic)}},
	{"dynamic chunk 2", false, []mpimap.Option{mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithChunk(2)}},
	{"guided", false, []mpimap.Option{mpimap.WithSchedule(mpimap.Guided)}},
	{"dynamic without root", true, []mpimap.Option{mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithoutRoot()}},
	{"block without root, time limit", false, []mpimap.Option{mpimap.WithoutRoot(), mpimap.WithTaskTimeout(time.Minute)}},
}

// TestBigResults: every kind of large result, under every schedule, with
// Map and EachN, arrives whole on rank 0. Slices come back at their length,
// nil when empty, on every rank. With the race detector, which checks every
// byte copied, results of a megabyte take two layouts only: the smaller ones
// take the same paths.
func TestBigResults(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for _, bc := range bigCases {
			for _, l := range bigLayouts {
				if raceDetector && bc.mib && !strings.Contains(l.name, "without root") {
					continue
				}
				opts := append([]mpimap.Option{mpimap.WithWorkers(2)}, l.opts...)
				if err := bc.run(ctx, c, 9, l.each, opts); err != nil {
					return fmt.Errorf("%s, %s: %w", bc.name, l.name, err)
				}
			}
		}
		return nil
	})
}

// TestBigResultsResume: large results go into the journal and come back
// from it: a map whose every third task fails, run again, runs only those,
// and a third run runs none and returns every result from the journal.
func TestBigResultsResume(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		if err := resumeBig(ctx, c, "array", func(i int) (r mebibyte) { fill(r[:], i); return },
			func(i int, r *mebibyte) error { return filled(r[:], i) }); err != nil {
			return err
		}
		if err := resumeBig(ctx, c, "slice", sliceOf, checkSlice); err != nil {
			return err
		}
		return resumeBig(ctx, c, "struct", func(i int) (r frame64k) { r.Step = int64(i); fill(r.Grid[:], i); return },
			func(i int, r *frame64k) error {
				if r.Step != int64(i) {
					return fmt.Errorf("result %d: step %d", i, r.Step)
				}
				return filled(r.Grid[:], i)
			})
	})
}

func resumeBig[R any](ctx context.Context, c mpi.Comm, name string, make func(i int) R, check func(i int, r *R) error) error {
	const n = 11
	path := journalPath(nil, fmt.Sprintf("big-%s-%d", name, c.Size()))
	if c.Rank() == 0 {
		os.Remove(path)
		defer os.Remove(path)
	}
	for run, want := range []int{n, (n + 2) / 3, 0} {
		var calls atomic.Int64
		got, err := mpimap.MapN(ctx, c, n, func(_ context.Context, i int) (R, error) {
			calls.Add(1)
			if run == 0 && i%3 == 0 {
				return make(-1), errors.New("first run")
			}
			return make(i), nil
		}, mpimap.WithJournal(path), mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithWorkers(2))
		if (err != nil) != (run == 0) {
			return fmt.Errorf("%s: run %d: %v", name, run, err)
		}
		ran, serr := reduce.Sum(c, calls.Load())
		if serr != nil {
			return serr
		}
		if c.Rank() != 0 {
			continue
		}
		if ran != int64(want) {
			return fmt.Errorf("%s: run %d ran %d tasks, want %d", name, run, ran, want)
		}
		for i := range got {
			if run == 0 && i%3 == 0 {
				continue
			}
			if err := check(i, &got[i]); err != nil {
				return fmt.Errorf("%s: run %d: %w", name, run, err)
			}
		}
	}
	return nil
}

// TestRawRefusesPointers: a result type of numbers with a pointer inside
// cannot travel as memory, nor through gob (the pointer's field is
// unexported): every rank says so, naming the type, before any task runs.
func TestRawRefusesPointers(t *testing.T) {
	type withPointer struct {
		Grid [1 << 14]float64
		next *withPointer //lint:ignore U1000 a pointer inside is what is refused
	}
	type element struct {
		X float64
		p *float64 //lint:ignore U1000 a pointer inside is what is refused
	}
	mpitest.Worlds(t, []int{1, 2}, func(ctx context.Context, c mpi.Comm) error {
		var calls atomic.Int64
		_, err1 := mpimap.MapN(ctx, c, 5, func(context.Context, int) (withPointer, error) {
			calls.Add(1)
			return withPointer{}, nil
		})
		_, err2 := mpimap.MapN(ctx, c, 5, func(context.Context, int) ([]element, error) {
			calls.Add(1)
			return nil, nil
		}, mpimap.WithSchedule(mpimap.Dynamic))
		_, err3 := mpimap.MapN(ctx, c, 5, func(context.Context, int) ([8]uintptr, error) {
			calls.Add(1)
			return [8]uintptr{}, nil
		})
		if calls.Load() != 0 {
			return fmt.Errorf("%d tasks ran with results that cannot cross ranks", calls.Load())
		}
		for _, tc := range []struct {
			err        error
			name, says string
		}{{err1, "withPointer", "field next"}, {err2, "[]mpimap_test.element", "field p"}, {err3, "[8]uintptr", "uintptr"}} {
			if tc.err == nil || !strings.Contains(tc.err.Error(), "cannot cross ranks") ||
				!strings.Contains(tc.err.Error(), tc.name) || !strings.Contains(tc.err.Error(), tc.says) {
				return fmt.Errorf("results of type %s: %v", tc.name, tc.err)
			}
		}
		return nil
	})
}

// TestPartsAfterRootFailure: a map that fails on rank 0 while other ranks'
// parts are on their way leaves them unread; the maps after it on the
// communicator must not take them for their own. The map fails as its
// journal grows past the file size limit, set for the test.
func TestPartsAfterRootFailure(t *testing.T) {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Fatal(err)
	}
	mpitest.Worlds(t, []int{2, 3}, func(ctx context.Context, c mpi.Comm) error {
		if c.Size() == 1 {
			return nil // under a launcher at np 1
		}
		path := journalPath(nil, fmt.Sprintf("full-%d", c.Size()))
		if c.Rank() == 0 {
			os.Remove(path)
			defer os.Remove(path)
		}
		small := syscall.Rlimit{Cur: 1 << 20, Max: limit.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
			return err
		}
		// Parts of the size the next maps' are: taken for them, they would
		// pass for results.
		_, err := mpimap.MapN(ctx, c, 300, func(_ context.Context, i int) ([]float64, error) {
			r := make([]float64, 1<<13+1)
			fill(r, -1)
			return r, nil
		}, mpimap.WithJournal(path), mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithoutRoot(), mpimap.WithWorkers(2))
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
			return err
		}
		if err == nil || !strings.Contains(err.Error(), "journal") {
			return fmt.Errorf("the map whose journal outgrew the file size limit returned %v, want an error naming the journal", err)
		}
		for _, s := range schedules {
			if err := bigCases[2].run(ctx, c, 9, false, []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithWorkers(2)}); err != nil {
				return fmt.Errorf("%v: %s, after a failed map: %w", s, bigCases[2].name, err)
			}
		}
		return nil
	})
}

// TestBigResultsThroughLeaders: in nodes of 2 and 3 ranks, the parts of a
// rank that reports to its node's leader go straight to rank 0, and still
// land in their slots, under every schedule, with the journal too. Under a
// launcher, whose world has the size it was given, nodes of 2 ranks only:
// from np 4 on, some rank reports to a leader other than rank 0.
func TestBigResultsThroughLeaders(t *testing.T) {
	sizes := []int{2, 3}
	if mpitest.RealMPI() {
		sizes = sizes[:1]
	}
	for _, k := range sizes {
		withNodeSize(t, k, func(t *testing.T) {
			mpitest.Worlds(t, []int{4, 5}, func(ctx context.Context, c mpi.Comm) error {
				var errs []error
				for _, bc := range bigCases {
					for _, l := range bigLayouts {
						if bc.mib && (raceDetector || !strings.Contains(l.name, "without root")) {
							continue
						}
						opts := append([]mpimap.Option{mpimap.WithWorkers(2)}, l.opts...)
						if err := bc.run(ctx, c, 13, l.each, opts); err != nil {
							errs = append(errs, fmt.Errorf("%s, %s: %w", bc.name, l.name, err))
						}
					}
				}
				if err := resumeBig(ctx, c, fmt.Sprintf("slice-node%d", k), sliceOf, checkSlice); err != nil {
					errs = append(errs, err)
				}
				return errors.Join(errs...)
			})
		})
	}
}
