package mpimap_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

func TestMain(m *testing.M) { mpitest.Main(m) }

var (
	sizes     = []int{1, 2, 3, 4, 7}
	schedules = []mpimap.Schedule{mpimap.Block, mpimap.Cyclic, mpimap.Dynamic, mpimap.Guided}
)

// point is a fixed-size result: it crosses ranks as raw memory.
type point struct {
	I    int32
	X, Y float64
	Ok   bool
}

func square(_ context.Context, i int) (point, error) {
	return point{I: int32(i), X: float64(i) * 1.5, Y: float64(i * i), Ok: i%2 == 0}, nil
}

// label is a general result: it crosses ranks through gob.
func label(_ context.Context, i int) (string, error) { return "task-" + strconv.Itoa(i), nil }

func indices(n int) []int {
	args := make([]int, n)
	for i := range args {
		args[i] = i
	}
	return args
}

// checkMap runs Map and compares rank 0's results with fn applied in order.
func checkMap[R comparable](ctx context.Context, c mpi.Comm, n int, fn func(context.Context, int) (R, error), opts ...mpimap.Option) error {
	got, err := mpimap.Map(ctx, c, indices(n), fn, opts...)
	if err != nil {
		return err
	}
	if c.Rank() != 0 {
		if got != nil {
			return fmt.Errorf("rank %d got %d results, want nil", c.Rank(), len(got))
		}
		return nil
	}
	if len(got) != n {
		return fmt.Errorf("got %d results, want %d", len(got), n)
	}
	for i, r := range got {
		if want, _ := fn(ctx, i); r != want {
			return fmt.Errorf("result %d is %v, want %v", i, r, want)
		}
	}
	return nil
}

func TestMapMatrix(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		// Every combination runs, and every one that fails is reported: a
		// check fails on rank 0 alone, after its map, so the ranks stay in
		// step.
		np := c.Size()
		var errs []error
		for _, n := range []int{0, 1, np - 1, np, np + 1, 1000} {
			for _, s := range schedules {
				for _, chunk := range []int{1, 7} {
					for _, workers := range []int{1, 3} {
						opts := []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithChunk(chunk), mpimap.WithWorkers(workers)}
						if err := checkMap(ctx, c, n, square, opts...); err != nil {
							errs = append(errs, fmt.Errorf("n=%d %v chunk=%d workers=%d: %w", n, s, chunk, workers, err))
						}
					}
				}
				if err := checkMap(ctx, c, n, label, mpimap.WithSchedule(s)); err != nil {
					errs = append(errs, fmt.Errorf("strings, n=%d %v: %w", n, s, err))
				}
				if err := checkMap(ctx, c, n, square, mpimap.WithSchedule(s), mpimap.WithoutRoot(), mpimap.WithChunk(3)); err != nil {
					errs = append(errs, fmt.Errorf("without root, n=%d %v: %w", n, s, err))
				}
			}
		}
		return errors.Join(errs...)
	})
}

func TestTaskErrorsAndPanics(t *testing.T) {
	bad := errors.New("bad argument")
	fn := func(_ context.Context, i int) (float64, error) {
		switch {
		case i%10 == 3:
			return 99, fmt.Errorf("task input %d: %w", i, bad)
		case i%10 == 7:
			panic(fmt.Sprintf("boom at %d", i))
		}
		return float64(i) / 2, nil
	}
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			got, err := mpimap.Map(ctx, c, indices(100), fn, mpimap.WithSchedule(s), mpimap.WithWorkers(2))
			if err == nil {
				return fmt.Errorf("%v: rank %d got no error", s, c.Rank())
			}
			var tes []*mpimap.TaskError
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var te *mpimap.TaskError
				if !errors.As(e, &te) {
					return fmt.Errorf("%v: joined error %v is not a TaskError", s, e)
				}
				tes = append(tes, te)
			}
			if len(tes) != 20 {
				return fmt.Errorf("%v: %d task errors, want 20: %v", s, len(tes), err)
			}
			for k, te := range tes {
				wantIndex := k/2*10 + 3 + k%2*4
				if te.Index != wantIndex || te.Panic != (wantIndex%10 == 7) || te.Host == "" || te.Rank < 0 || te.Rank >= c.Size() {
					return fmt.Errorf("%v: error %d is %+v", s, k, te)
				}
				if te.Panic && !strings.Contains(te.Err.Error(), fmt.Sprintf("boom at %d", te.Index)) {
					return fmt.Errorf("%v: panic text %q", s, te.Err)
				}
				// The original error on the rank that ran the task.
				if !te.Panic && te.Rank == c.Rank() && !errors.Is(te, bad) {
					return fmt.Errorf("%v: rank %d lost the original error of task %d", s, c.Rank(), te.Index)
				}
			}
			if c.Rank() == 0 {
				for i, r := range got {
					want := float64(i) / 2
					if i%10 == 3 || i%10 == 7 {
						want = 0
					}
					if r != want {
						return fmt.Errorf("%v: result %d is %v, want %v", s, i, r, want)
					}
				}
			}
		}
		return nil
	})
}

func TestCancelledContext(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			// Every rank's context is cancelled before the map starts.
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			ran := 0
			_, err := mpimap.Map(cctx, c, indices(50), func(_ context.Context, i int) (int, error) { ran++; return i, nil },
				mpimap.WithSchedule(s), mpimap.WithWorkers(1))
			if !errors.Is(err, mpimap.ErrInterrupted) || !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%v: got %v, want ErrInterrupted and context.Canceled", s, err)
			}
			if ran != 0 {
				return fmt.Errorf("%v: %d tasks ran after cancellation", s, ran)
			}
		}
		// Rank 0's context is cancelled by its own fifth task: the other
		// ranks are told to stop, every rank returns ErrInterrupted, and the
		// results computed stay. Static schedules guarantee rank 0 a share.
		for _, s := range []mpimap.Schedule{mpimap.Block, mpimap.Cyclic} {
			cctx, cancel := context.WithCancel(ctx)
			var ranHere atomic.Int32
			cancelledBy := -1
			got, err := mpimap.Map(cctx, c, indices(400), func(_ context.Context, i int) (int, error) {
				if c.Rank() == 0 && ranHere.Add(1) == 5 {
					cancelledBy = i
					cancel()
				}
				time.Sleep(200 * time.Microsecond)
				return i + 1, nil
			}, mpimap.WithSchedule(s), mpimap.WithWorkers(1))
			cancel()
			if !errors.Is(err, mpimap.ErrInterrupted) {
				return fmt.Errorf("%v, mid-map cancel: rank %d got %v, want ErrInterrupted", s, c.Rank(), err)
			}
			if c.Rank() != 0 {
				continue
			}
			if got[cancelledBy] != cancelledBy+1 {
				return fmt.Errorf("%v: the result of the task that cancelled is lost", s)
			}
			done := 0
			for i, r := range got {
				if r != 0 && r != i+1 {
					return fmt.Errorf("%v: result %d is %d", s, i, r)
				}
				if r != 0 {
					done++
				}
			}
			if done == 400 {
				return fmt.Errorf("%v: every task ran despite the cancellation", s)
			}
		}
		return nil
	})
}

func TestBadInput(t *testing.T) {
	mpitest.Worlds(t, []int{1, 3}, func(ctx context.Context, c mpi.Comm) error {
		args := indices(10)
		id := func(_ context.Context, i int) (int, error) { return i, nil }
		cases := []struct {
			name string
			err  error
			want string
		}{
			{"nil fn", second(mpimap.Map[int, int](ctx, c, args, nil)), "nil fn"},
			{"zero chunk", second(mpimap.Map(ctx, c, args, id, mpimap.WithChunk(0))), "WithChunk(0)"},
			{"negative workers", second(mpimap.Map(ctx, c, args, id, mpimap.WithWorkers(-2))), "WithWorkers(-2)"},
			{"bad schedule", second(mpimap.Map(ctx, c, args, id, mpimap.WithSchedule(9))), "no such schedule"},
			{"func result", second(mpimap.Map(ctx, c, args, func(context.Context, int) (func(), error) { return nil, nil })), "func()"},
			{"chan in a struct", second(mpimap.Map(ctx, c, args, func(context.Context, int) (struct{ C chan int }, error) {
				return struct{ C chan int }{}, nil
			})), "chan int"},
			{"unexported field", second(mpimap.Map(ctx, c, args, func(context.Context, int) (struct{ s string }, error) {
				return struct{ s string }{}, nil
			})), "unexported"},
			{"negative retries", second(mpimap.Map(ctx, c, args, id, mpimap.WithRetries(-1))), "WithRetries(-1)"},
			{"zero timeout", second(mpimap.Map(ctx, c, args, id, mpimap.WithTaskTimeout(0))), "WithTaskTimeout(0s)"},
			{"empty journal path", second(mpimap.Map(ctx, c, args, id, mpimap.WithJournal(""))), "journal needs a path"},
			{"nil option", second(mpimap.Map(ctx, c, args, id, nil)), "nil Option"},
			{"journal of unencodable args", second(mpimap.Map(ctx, c, []func(){nil}, func(context.Context, func()) (int, error) { return 0, nil },
				mpimap.WithJournal(filepath.Join(os.TempDir(), "never-written")))), "fingerprints the arguments"},
			{"args differ in length", second(mpimap.Map(ctx, c, args[:10-c.Rank()%2], id)), "differ in length"},
			{"nil comm", second(mpimap.Map(ctx, nil, args, id)), "nil Comm"},
		}
		var errs []error
		for _, tc := range cases {
			if tc.name == "args differ in length" && c.Size() == 1 {
				continue
			}
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				errs = append(errs, fmt.Errorf("%s: got %v, want an error containing %q", tc.name, tc.err, tc.want))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...) // every map above ran on every rank: the ranks are in step
		}
		// Options differing across ranks are refused everywhere.
		if c.Size() > 1 {
			s := mpimap.Block
			if c.Rank() == 1 {
				s = mpimap.Dynamic
			}
			if _, err := mpimap.Map(ctx, c, args, id, mpimap.WithSchedule(s)); err == nil || !strings.Contains(err.Error(), "different schedules") {
				return fmt.Errorf("differing schedules: got %v", err)
			}
		}
		return nil
	})
}

func second[A any](_ A, err error) error { return err }

func TestResultsIndependentOfLayout(t *testing.T) {
	// Results keyed by task, never by rank or goroutine, are identical
	// whatever the schedule, chunk and workers.
	fn := func(_ context.Context, i int) ([]float64, error) {
		out := make([]float64, i%5)
		for k := range out {
			out[k] = float64(i*k) / 3
		}
		return out, nil
	}
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		// Every combination is run on every rank, whatever an earlier one
		// found, so that the ranks stay in step; all that differ are told.
		var first [][]float64
		var errs []error
		for _, s := range schedules {
			for _, chunk := range []int{1, 4} {
				got, err := mpimap.Map(ctx, c, indices(123), fn, mpimap.WithSchedule(s), mpimap.WithChunk(chunk), mpimap.WithWorkers(2))
				if err != nil {
					errs = append(errs, fmt.Errorf("%v chunk %d: %w", s, chunk, err))
					continue
				}
				if c.Rank() != 0 {
					continue
				}
				if first == nil {
					first = got
				}
				for i := range got {
					if !slices.Equal(got[i], first[i]) {
						errs = append(errs, fmt.Errorf("%v chunk %d: result %d is %v, want %v", s, chunk, i, got[i], first[i]))
						break
					}
				}
			}
		}
		return errors.Join(errs...)
	})
}

// TestDynamicBigMessages deals many short tasks with large results, so that
// messages both ways exceed MPI's eager limits (results of 4 KiB; with four
// workers a full window of replies is about 6 KB of spans): rank 0 must keep
// receiving while its replies are on their way, or it and a worker each wait
// for the other to receive.
func TestDynamicBigMessages(t *testing.T) {
	type block [512]float64 // 4 KiB per result
	mpitest.Worlds(t, []int{2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range []mpimap.Schedule{mpimap.Dynamic, mpimap.Guided} {
			got, err := mpimap.Map(ctx, c, indices(3000), func(_ context.Context, i int) (block, error) {
				var b block
				b[i%512] = float64(i)
				return b, nil
			}, mpimap.WithSchedule(s), mpimap.WithoutRoot(), mpimap.WithWorkers(4))
			if err != nil {
				return err
			}
			if c.Rank() == 0 {
				for i, b := range got {
					if b[i%512] != float64(i) {
						return fmt.Errorf("%v: result %d damaged", s, i)
					}
				}
			}
		}
		return nil
	})
}
