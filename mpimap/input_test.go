package mpimap_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// inputOf is task i's input as rank 0 makes it; every fifth is empty.
func inputOf(i int) []byte {
	if i%5 == 0 {
		return nil
	}
	return []byte(strings.Repeat(fmt.Sprintf("input of %d;", i), i%4))
}

// echoInput returns the task's input.
func echoInput(ctx context.Context, _ int) (string, error) {
	return string(mpimap.TaskInput(ctx)), nil
}

// counted is rank 0's input function, counting its calls per task; nil on
// the other ranks, which never call it.
type counted struct{ calls map[int]int }

func newCounted(c mpi.Comm) (*counted, func(int) []byte) {
	if c.Rank() != 0 {
		return nil, nil
	}
	k := &counted{calls: map[int]int{}}
	return k, func(i int) []byte {
		k.calls[i]++ // rank 0 calls it from the map's goroutine alone: no lock
		return inputOf(i)
	}
}

// checkInputs checks results of echoInput: each task's input, and the input
// function called once per task that ran, for none that did not.
func checkInputs(got []string, k *counted, n int, ran func(i int) bool) error {
	if len(got) != n {
		return fmt.Errorf("%d results, want %d", len(got), n)
	}
	for i := range n {
		want, calls := string(inputOf(i)), 1
		if !ran(i) {
			want, calls = "", 0
		}
		if got[i] != want || k.calls[i] != calls {
			return fmt.Errorf("task %d: input %q, made %d times; want %q, %d times", i, got[i], k.calls[i], want, calls)
		}
	}
	return nil
}

func always(int) bool { return true }

// Every task gets the input rank 0 made for it, through leaders too, under
// every dealt schedule, chunk, goroutines per rank and task time limit.
func TestInputMatrix(t *testing.T) {
	for _, k := range nodeSizes {
		withNodeSize(t, k, func(t *testing.T) {
			mpitest.Worlds(t, []int{1, 4, 9}, func(ctx context.Context, c mpi.Comm) error {
				np := c.Size()
				var errs []error
				for _, n := range []int{0, 1, np + 1, 1000} {
					for _, s := range []mpimap.Schedule{mpimap.Dynamic, mpimap.Guided} {
						for _, chunk := range []int{1, 7} {
							for _, workers := range []int{1, 3} {
								calls, input := newCounted(c)
								opts := []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithChunk(chunk), mpimap.WithWorkers(workers), mpimap.WithInput(input)}
								if workers == 3 {
									opts = append(opts, mpimap.WithTaskTimeout(time.Minute))
								}
								got, err := mpimap.MapN(ctx, c, n, echoInput, opts...)
								if err == nil && c.Rank() == 0 {
									err = checkInputs(got, calls, n, always)
								}
								if err != nil {
									errs = append(errs, fmt.Errorf("n=%d %v chunk=%d workers=%d: %w", n, s, chunk, workers, err))
								}
							}
						}
					}
				}
				return errors.Join(errs...)
			})
		})
	}
}

// A task that fails runs again with its input, made again by rank 0.
func TestInputRetried(t *testing.T) {
	mpitest.Worlds(t, []int{3}, func(ctx context.Context, c mpi.Comm) error {
		if c.Size() == 1 {
			return nil // no other rank to retry on
		}
		rank := c.Rank()
		calls, input := newCounted(c)
		fn := func(ctx context.Context, i int) (string, error) {
			if rank == 1 && i%3 == 0 {
				return "", fmt.Errorf("task %d fails on rank 1", i)
			}
			return echoInput(ctx, i)
		}
		got, err := mpimap.MapN(ctx, c, 300, fn, mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithRetries(1), mpimap.WithInput(input))
		if err != nil || rank != 0 {
			return err
		}
		retried := 0
		for i, n := range calls.calls {
			if n == 2 {
				retried++
				calls.calls[i] = 1
			}
		}
		if retried == 0 {
			return errors.New("no task ran twice: rank 1 ran no task a third of which fail?")
		}
		return checkInputs(got, calls, 300, always)
	})
}

// A resumed map makes no input for the tasks its journal holds.
func TestInputResumed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	mpitest.Worlds(t, []int{3}, func(ctx context.Context, c mpi.Comm) error {
		odd := func(i int) bool { return i%2 == 1 }
		fn := func(ctx context.Context, i int) (string, error) {
			if odd(i) {
				return "", errors.New("odd")
			}
			return echoInput(ctx, i)
		}
		journal := mpimap.WithJournal(path)
		_, input := newCounted(c)
		opts := []mpimap.Option{mpimap.WithSchedule(mpimap.Guided), journal}
		if _, err := mpimap.MapN(ctx, c, 100, fn, append(opts, mpimap.WithInput(input))...); err == nil {
			return errors.New("the odd tasks did not fail")
		}
		calls, input := newCounted(c)
		got, err := mpimap.MapN(ctx, c, 100, echoInput, append(opts, mpimap.WithInput(input))...)
		if err != nil || c.Rank() != 0 {
			return err
		}
		for i := range got {
			if !odd(i) {
				got[i] = "" // from the journal, made by the first run
			}
		}
		return checkInputs(got, calls, 100, odd)
	})
}

// WithInput where it cannot work is refused on every rank, saying why.
func TestInputRefused(t *testing.T) {
	mpitest.Worlds(t, []int{2}, func(ctx context.Context, c mpi.Comm) error {
		_, input := newCounted(c)
		cases := []struct {
			opts []mpimap.Option
			want string
		}{
			{[]mpimap.Option{mpimap.WithInput(input)}, "WithInput needs WithSchedule(Dynamic) or WithSchedule(Guided)"},
			{[]mpimap.Option{mpimap.WithSchedule(mpimap.Cyclic), mpimap.WithInput(input)}, "the cyclic schedule is not dealt"},
			{[]mpimap.Option{mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithInput(nil)}, "WithInput(nil) on rank 0"},
		}
		if c.Size() > 1 {
			var some []mpimap.Option
			if c.Rank() == 0 {
				some = []mpimap.Option{mpimap.WithInput(input)}
			}
			cases = append(cases, struct {
				opts []mpimap.Option
				want string
			}{append(some, mpimap.WithSchedule(mpimap.Dynamic)), "input settings"})
		}
		for _, tc := range cases {
			_, err := mpimap.MapN(ctx, c, 10, echoInput, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				return fmt.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		}
		return nil
	})
}
