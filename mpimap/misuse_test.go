package mpimap_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
	"github.com/hpcmap/hpcmap/reduce"
)

// The tests of this file are what a careless user does: each once made Map
// return a wrong result, panic inside the library or hang.

// A map that fails on rank 0 only (its trace cannot be written) must fail on
// every rank, and the next map on the same communicator must see none of its
// messages.
func TestMapAfterRootFailure(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			_, err := mpimap.Map(ctx, c, indices(3000), func(context.Context, int) (int, error) { return -1, nil },
				mpimap.WithTrace("/dev/full"), mpimap.WithSchedule(s), mpimap.WithWorkers(2))
			if err == nil || !strings.Contains(err.Error(), "trace") {
				return fmt.Errorf("%v: the map with an unwritable trace returned %v, want an error naming the trace", s, err)
			}
			got, err := mpimap.Map(ctx, c, indices(3000), func(context.Context, int) (int, error) { return 1, nil },
				mpimap.WithSchedule(s), mpimap.WithWorkers(2))
			if err != nil {
				return fmt.Errorf("%v: the map after the failed one: %w", s, err)
			}
			if c.Rank() == 0 {
				for i, r := range got {
					if r != 1 {
						return fmt.Errorf("%v: result %d of the second map is %d: a message of the first", s, i, r)
					}
				}
			}
		}
		return nil
	})
}

// Arguments of the same length but different content on some rank are an
// error on every rank.
func TestArgsDifferInContent(t *testing.T) {
	mpitest.Worlds(t, []int{2, 3}, func(ctx context.Context, c mpi.Comm) error {
		if c.Size() == 1 {
			return nil // under a launcher at np 1
		}
		args := []int{1, 2, 3, 4}
		if c.Rank() == c.Size()-1 {
			args = []int{100, 200, 300, 400}
		}
		_, err := mpimap.Map(ctx, c, args, func(_ context.Context, x int) (int, error) { return 10 * x, nil })
		if err == nil || !strings.Contains(err.Error(), "args differ") {
			return fmt.Errorf("got %v, want an error saying the args differ", err)
		}
		// Arguments holding maps iterate differently on each rank, but are
		// the same arguments.
		withMaps := []map[string]int{{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}, {"x": 9}}
		if _, err := mpimap.Map(ctx, c, withMaps, func(_ context.Context, m map[string]int) (int, error) { return len(m), nil }); err != nil {
			return fmt.Errorf("arguments holding maps: %w", err)
		}
		return nil
	})
}

type hits struct{ Hits []int }

type box struct{ V int }

// Every result goes through the same encoding, whichever rank ran its task:
// results must not depend on the number of ranks.
func TestResultsAlikeOnEveryRank(t *testing.T) {
	type run struct {
		hits  []hits
		boxes []*box
	}
	var mu sync.Mutex
	runs := map[int]run{}
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		h, err := mpimap.Map(ctx, c, indices(200), func(_ context.Context, i int) (hits, error) {
			if i%2 == 0 {
				return hits{Hits: []int{}}, nil
			}
			return hits{Hits: []int{i}}, nil
		}, mpimap.WithSchedule(mpimap.Dynamic))
		if err != nil {
			return err
		}
		// A nil pointer, a pointer to a zero value, and one to a value.
		b, err := mpimap.Map(ctx, c, indices(200), func(_ context.Context, i int) (*box, error) {
			switch i % 3 {
			case 0:
				return nil, nil
			case 1:
				return &box{}, nil
			}
			return &box{V: i}, nil
		}, mpimap.WithSchedule(mpimap.Cyclic))
		if err != nil {
			return fmt.Errorf("pointer results: %w", err)
		}
		if c.Rank() == 0 {
			mu.Lock()
			runs[c.Size()] = run{h, b}
			mu.Unlock()
		}
		return nil
	})
	if mpitest.RealMPI() {
		// One world per launch: compare with what one rank does.
		return
	}
	one := runs[1]
	for np, r := range runs {
		for i := range r.hits {
			if (r.hits[i].Hits == nil) != (one.hits[i].Hits == nil) || len(r.hits[i].Hits) != len(one.hits[i].Hits) {
				t.Errorf("np=%d: result %d is %#v, at np=1 %#v", np, i, r.hits[i], one.hits[i])
				break
			}
		}
		for i := range r.boxes {
			a, b := r.boxes[i], one.boxes[i]
			if (a == nil) != (b == nil) || a != nil && *a != *b {
				t.Errorf("np=%d: pointer result %d is %v, at np=1 %v", np, i, a, b)
				break
			}
		}
	}
}

// Whether a result can cross ranks does not depend on where its task ran: a
// value of an unregistered type in an interface fails its task at any np.
func TestUnencodableResultFailsAnywhere(t *testing.T) {
	type secret struct{ X int }
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		_, err := mpimap.Map(ctx, c, indices(6), func(_ context.Context, i int) (any, error) { return secret{i}, nil })
		var te *mpimap.TaskError
		if !errors.As(err, &te) {
			return fmt.Errorf("got %v, want TaskErrors for results that cannot cross ranks", err)
		}
		if strings.Contains(err.Error(), "<nil>") || !strings.Contains(err.Error(), "interface") {
			return fmt.Errorf("the error does not name the result type: %v", err)
		}
		return nil
	})
}

type myErr struct{ code int }

func (e *myErr) Error() string { return fmt.Sprintf("code %d", e.code) }

// A task returning a nil pointer of an error type as its error fails, with a
// message that says so; nothing panics.
func TestTypedNilError(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		_, err := mpimap.Map(ctx, c, indices(5), func(_ context.Context, i int) (int, error) {
			if i == 3 {
				var p *myErr
				return 0, p
			}
			return i, nil
		})
		var te *mpimap.TaskError
		if !errors.As(err, &te) || te.Index != 3 || !strings.Contains(err.Error(), "nil *mpimap_test.myErr") {
			return fmt.Errorf("got %v, want task 3 failed with a nil *myErr", err)
		}
		return nil
	})
}

// runtime.Goexit in a task (t.FailNow in a test helper) fails that task; the
// map ends.
func TestGoexitInTask(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Minute} {
		mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
			opts := []mpimap.Option{mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithWorkers(2)}
			if timeout > 0 {
				opts = append(opts, mpimap.WithTaskTimeout(timeout))
			}
			got, err := mpimap.Map(ctx, c, indices(20), func(_ context.Context, i int) (int, error) {
				if i == 5 {
					runtime.Goexit()
				}
				return i * 2, nil
			}, opts...)
			var te *mpimap.TaskError
			if !errors.As(err, &te) || te.Index != 5 || !strings.Contains(err.Error(), "Goexit") {
				return fmt.Errorf("timeout %v: got %v, want task 5 failed by Goexit", timeout, err)
			}
			if c.Rank() == 0 && (got[19] != 38 || got[6] != 12) {
				return fmt.Errorf("timeout %v: results %v", timeout, got)
			}
			return nil
		})
	}
}

// Sizes at the edge of int must not overflow into a map that never ends.
func TestHugeSizes(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			for _, chunk := range []int{math.MaxInt, math.MaxInt / 2, 1 << 40} {
				if err := checkMap(ctx, c, 50, square, mpimap.WithSchedule(s), mpimap.WithChunk(chunk)); err != nil {
					return fmt.Errorf("%v, chunk %d: %w", s, chunk, err)
				}
			}
		}
		_, err := mpimap.Map(ctx, c, indices(5), square, mpimap.WithWorkers(1<<50))
		if err == nil || !strings.Contains(err.Error(), "WithWorkers") {
			return fmt.Errorf("WithWorkers(1<<50): got %v, want an error naming it", err)
		}
		return nil
	})
}

// A task must not communicate: a Map inside a task is refused at once, as
// that task's error, instead of hanging the job.
func TestNestedMapRefused(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		_, err := mpimap.Map(ctx, c, indices(4), func(ctx context.Context, i int) (int, error) {
			inner, err := mpimap.Map(ctx, c, indices(3), square)
			return len(inner), err
		}, mpimap.WithSchedule(mpimap.Dynamic))
		var te *mpimap.TaskError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "inside a task") {
			return fmt.Errorf("got %v, want every task failed: a Map inside a task", err)
		}
		return nil
	})
}

// The log records of a task abandoned at its time limit carry its own index,
// not that of a task its worker ran later.
func TestAbandonedTaskLogsItsOwnIndex(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2}, func(ctx context.Context, c mpi.Comm) error {
		var mu sync.Mutex
		var records []string
		h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			records = append(records, string(p))
			return len(p), nil
		}), nil)
		_, err := mpimap.Map(ctx, c, indices(12), func(ctx context.Context, i int) (int, error) {
			if i == 0 {
				time.Sleep(60 * time.Millisecond) // ignores its context
				mpimap.Logger(ctx).Info("I am task 0")
				return 0, nil
			}
			time.Sleep(15 * time.Millisecond)
			mpimap.Logger(ctx).Info("I am a later task")
			return i, nil
		}, mpimap.WithTaskTimeout(20*time.Millisecond), mpimap.WithWorkers(1), mpimap.WithSchedule(mpimap.Cyclic),
			mpimap.WithLogs(h), mpimap.WithStreamedLogs())
		var te *mpimap.TaskError
		if !errors.As(err, &te) || te.Index != 0 {
			return fmt.Errorf("got %v, want task 0 timed out", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range records {
			if strings.Contains(r, "I am task 0") && !strings.Contains(r, "task=0 ") {
				return fmt.Errorf("the abandoned task's record is tagged with another task: %s", r)
			}
		}
		return nil
	})
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Options that differ across ranks are named in the error.
func TestDifferingOptionsNamed(t *testing.T) {
	mpitest.Worlds(t, []int{2, 3}, func(ctx context.Context, c mpi.Comm) error {
		if c.Size() == 1 {
			return nil // under a launcher at np 1
		}
		last := c.Rank() == c.Size()-1
		for _, tc := range []struct {
			name string
			opt  mpimap.Option
		}{
			{"WithRetries", mpimap.WithRetries(2)},
			{"WithTaskTimeout", mpimap.WithTaskTimeout(time.Hour)},
			{"WithSchedule", mpimap.WithSchedule(mpimap.Guided)},
			{"WithChunk", mpimap.WithChunk(9)},
			{"WithoutRoot", mpimap.WithoutRoot()},
		} {
			var opts []mpimap.Option
			if last {
				opts = append(opts, tc.opt)
			}
			_, err := mpimap.Map(ctx, c, indices(4), square, opts...)
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				return fmt.Errorf("%s on one rank only: got %v, want an error naming it", tc.name, err)
			}
		}
		return nil
	})
}

// Rank 0's own failure to write its trace is reported as such, not as a
// malformed message from another rank.
func TestRootTraceFailureNamed(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2}, func(ctx context.Context, c mpi.Comm) error {
		// Without rank 0 computing, the failing write is of another rank's
		// piece.
		_, err := mpimap.Map(ctx, c, indices(4000), square, mpimap.WithTrace("/dev/full"), mpimap.WithoutRoot())
		if err == nil || strings.Contains(err.Error(), "malformed") || !strings.Contains(err.Error(), "trace") {
			return fmt.Errorf("got %v, want an error about the trace", err)
		}
		if c.Rank() != 0 && !strings.Contains(err.Error(), "rank 0") {
			return fmt.Errorf("rank %d: %v does not say where the map failed", c.Rank(), err)
		}
		return nil
	})
}

// A collective on the map's communicator inside a task is refused at once,
// as that task's error, with the reason; the map goes on.
func TestCollectiveInTaskRefused(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		_, err := mpimap.Map(ctx, c, indices(6), func(ctx context.Context, i int) (int, error) {
			if i%2 == 0 {
				return 0, c.Barrier()
			}
			_, err := reduce.AllSum(c, 1.0)
			return i, err
		}, mpimap.WithSchedule(mpimap.Dynamic))
		var errs []error
		if err != nil {
			errs = err.(interface{ Unwrap() []error }).Unwrap()
		}
		if len(errs) != 6 {
			return fmt.Errorf("got %v, want every task refused", err)
		}
		for _, e := range errs {
			if !errors.Is(e, mpi.ErrInUse) || !strings.Contains(e.Error(), "a Map is running on this communicator") {
				return fmt.Errorf("task error %v does not say why", e)
			}
		}
		// After the map, the communicator is the caller's again.
		if _, err := reduce.AllSum(c, 1.0); err != nil {
			return fmt.Errorf("after the map: %w", err)
		}
		return nil
	})
}

// Two maps started at once on one communicator from two goroutines: neither
// hangs, and neither returns a result on any rank, for they may have paired
// different maps across ranks; each says what to do instead.
func TestConcurrentMapsRefused(t *testing.T) {
	mpitest.Worlds(t, []int{2, 3, 4}, func(ctx context.Context, c mpi.Comm) error {
		if c.Size() == 1 {
			return nil // under a launcher at np 1
		}
		slow := func(k int) func(context.Context, int) (int, error) {
			return func(_ context.Context, i int) (int, error) {
				time.Sleep(time.Millisecond)
				return k*10000 + i, nil
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[k] = mpimap.Map(ctx, c, indices(1000), slow(k), mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithWorkers(2))
			}()
		}
		wg.Wait()
		for k, err := range errs {
			if err == nil || !strings.Contains(err.Error(), "two maps ran at once") {
				return fmt.Errorf("map %d: got %v, want an error saying two maps ran at once", k, err)
			}
		}
		// The next map works.
		return checkMap(ctx, c, 100, square, mpimap.WithSchedule(mpimap.Dynamic))
	})
}
