package mpimap_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// collected is what a sink received: each index's result, and how many
// times it came.
type collected[R any] struct {
	got   map[int]R
	times map[int]int
}

func newCollected[R any]() *collected[R] {
	return &collected[R]{got: map[int]R{}, times: map[int]int{}}
}

func (c *collected[R]) sink(i int, r R) error {
	c.got[i] = r
	c.times[i]++
	return nil
}

// check compares what the sink received with fn over 0..n-1, each once.
func (c *collected[R]) check(ctx context.Context, n int, fn func(context.Context, int) (R, error), eq func(a, b R) bool) error {
	if len(c.got) != n {
		return fmt.Errorf("the sink got %d results, want %d", len(c.got), n)
	}
	for i := range n {
		want, _ := fn(ctx, i)
		if c.times[i] != 1 || !eq(c.got[i], want) {
			return fmt.Errorf("result %d came %d times as %v, want once as %v", i, c.times[i], c.got[i], want)
		}
	}
	return nil
}

// TestMapNAndEachMatrix runs MapN, Each and EachN over the matrix of
// TestMapMatrix, and wants what Map gives: every failing combination is
// reported, not only the first.
func TestMapNAndEachMatrix(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		np := c.Size()
		var errs []error
		for _, n := range []int{0, 1, np - 1, np + 1, 1000} {
			for _, s := range schedules {
				for _, chunk := range []int{1, 7} {
					for _, workers := range []int{1, 3} {
						opts := []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithChunk(chunk), mpimap.WithWorkers(workers)}
						where := fmt.Sprintf("n=%d %v chunk=%d workers=%d", n, s, chunk, workers)
						if err := checkMapN(ctx, c, n, opts...); err != nil {
							errs = append(errs, fmt.Errorf("MapN, %s: %w", where, err))
						}
						if err := checkEach(ctx, c, n, false, opts...); err != nil {
							errs = append(errs, fmt.Errorf("Each, %s: %w", where, err))
						}
						if err := checkEach(ctx, c, n, true, opts...); err != nil {
							errs = append(errs, fmt.Errorf("EachN, %s: %w", where, err))
						}
					}
				}
			}
		}
		return errors.Join(errs...)
	})
}

func checkMapN(ctx context.Context, c mpi.Comm, n int, opts ...mpimap.Option) error {
	want, err := mpimap.Map(ctx, c, indices(n), square, opts...)
	if err != nil {
		return err
	}
	got, err := mpimap.MapN(ctx, c, n, square, opts...)
	if err != nil {
		return err
	}
	if c.Rank() != 0 {
		if got != nil {
			return fmt.Errorf("rank %d got %d results", c.Rank(), len(got))
		}
		return nil
	}
	if len(got) != len(want) {
		return fmt.Errorf("%d results, Map gives %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("result %d is %v, Map gives %v", i, got[i], want[i])
		}
	}
	return nil
}

func checkEach(ctx context.Context, c mpi.Comm, n int, byIndex bool, opts ...mpimap.Option) error {
	col := newCollected[point]()
	var err error
	if byIndex {
		err = mpimap.EachN(ctx, c, n, square, col.sink, opts...)
	} else {
		err = mpimap.Each(ctx, c, indices(n), square, col.sink, opts...)
	}
	if err != nil {
		return err
	}
	if c.Rank() != 0 {
		if len(col.got) != 0 {
			return fmt.Errorf("rank %d's sink was called", c.Rank())
		}
		return nil
	}
	return col.check(ctx, n, square, func(a, b point) bool { return a == b })
}

// A sink's error stops the map on every rank; rank 0's error wraps it. A
// task error or panic reaches no sink, and is a TaskError as in Map.
func TestEachErrors(t *testing.T) {
	full := errors.New("disk full")
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			calls := 0
			err := mpimap.EachN(ctx, c, 500, square, func(int, point) error {
				calls++
				if calls == 20 {
					return full
				}
				return nil
			}, mpimap.WithSchedule(s), mpimap.WithWorkers(2))
			if err == nil || c.Rank() == 0 && (!errors.Is(err, full) || calls != 20) {
				return fmt.Errorf("%v: a sink error: got %v after %d calls", s, err, calls)
			}
			if c.Rank() != 0 && !strings.Contains(err.Error(), "disk full") {
				return fmt.Errorf("%v: rank %d's error does not say why the map stopped: %v", s, c.Rank(), err)
			}

			col := newCollected[float64]()
			err = mpimap.Each(ctx, c, indices(60), func(_ context.Context, i int) (float64, error) {
				switch i % 10 {
				case 3:
					return 0, errors.New("bad")
				case 7:
					panic("boom")
				}
				return float64(i), nil
			}, col.sink, mpimap.WithSchedule(s))
			var te *mpimap.TaskError
			if !errors.As(err, &te) {
				return fmt.Errorf("%v: task failures: got %v", s, err)
			}
			if c.Rank() == 0 {
				if len(col.got) != 48 {
					return fmt.Errorf("%v: the sink got %d results, want the 48 that succeeded", s, len(col.got))
				}
				for i := range col.got {
					if i%10 == 3 || i%10 == 7 {
						return fmt.Errorf("%v: the sink got failed task %d", s, i)
					}
				}
			}
		}
		var nilSink func(int, point) error
		if err := mpimap.EachN(ctx, c, 5, square, nilSink); err == nil || !strings.Contains(err.Error(), "nil sink") {
			return fmt.Errorf("nil sink: got %v", err)
		}
		return nil
	})
}

// A journaled EachN stopped halfway resumes: the sink then gets the
// journaled results first and the rest after, each task exactly once in
// all, with the results a whole map gives.
func TestEachResume(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("hpcmap-each-%d-%v-%d.j", os.Getpid(), s, c.Size()))
			if c.Rank() == 0 {
				os.Remove(path)
			}
			opts := []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithJournal(path), mpimap.WithWorkers(2)}
			first := newCollected[point]()
			var n atomic.Int64
			stopAt := fmt.Errorf("stop here")
			err := mpimap.EachN(ctx, c, 300, square, func(i int, r point) error {
				first.sink(i, r)
				if n.Add(1) == 100 {
					return stopAt
				}
				return nil
			}, opts...)
			if err == nil || c.Rank() == 0 && !errors.Is(err, stopAt) {
				return fmt.Errorf("%v: the first run did not stop as asked: %v", s, err)
			}
			second := newCollected[point]()
			if err := mpimap.EachN(ctx, c, 300, square, second.sink, opts...); err != nil {
				return fmt.Errorf("%v: resuming: %w", s, err)
			}
			if c.Rank() == 0 {
				os.Remove(path)
				if err := second.check(ctx, 300, square, func(a, b point) bool { return a == b }); err != nil {
					return fmt.Errorf("%v: resumed: %w", s, err)
				}
				if len(first.got) < 100 {
					return fmt.Errorf("%v: the first run's sink got %d results, want at least 100", s, len(first.got))
				}
			}
		}
		return nil
	})
}
