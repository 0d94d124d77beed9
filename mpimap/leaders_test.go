package mpimap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// nodeSizes are the HPCMAP_NODE_SIZE values the tree is tried with: every
// rank its own node (flat), and nodes of 3 and 4 ranks, the last one short.
var nodeSizes = []int{1, 3, 4}

// withNodeSize runs f with HPCMAP_NODE_SIZE set to k on every rank.
func withNodeSize(t *testing.T, k int, f func(t *testing.T)) {
	t.Run(fmt.Sprintf("node=%d", k), func(t *testing.T) {
		t.Setenv("HPCMAP_NODE_SIZE", strconv.Itoa(k))
		f(t)
	})
}

// Through leaders, every function, schedule and chunk gives what a flat map
// gives.
func TestLeadersMatrix(t *testing.T) {
	for _, k := range nodeSizes {
		withNodeSize(t, k, func(t *testing.T) {
			mpitest.Worlds(t, []int{4, 9}, func(ctx context.Context, c mpi.Comm) error {
				np := c.Size()
				var errs []error
				for _, n := range []int{0, 1, np - 1, np + 1, 1000} {
					for _, s := range schedules {
						for _, chunk := range []int{1, 7} {
							opts := []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithChunk(chunk), mpimap.WithWorkers(2)}
							where := fmt.Sprintf("n=%d %v chunk=%d", n, s, chunk)
							if err := checkMap(ctx, c, n, square, opts...); err != nil {
								errs = append(errs, fmt.Errorf("Map, %s: %w", where, err))
							}
							if err := checkMapN(ctx, c, n, opts...); err != nil {
								errs = append(errs, fmt.Errorf("MapN, %s: %w", where, err))
							}
							if err := checkEach(ctx, c, n, true, opts...); err != nil {
								errs = append(errs, fmt.Errorf("EachN, %s: %w", where, err))
							}
						}
					}
					if err := checkMap(ctx, c, n, label, mpimap.WithSchedule(mpimap.Dynamic)); err != nil {
						errs = append(errs, fmt.Errorf("strings, n=%d: %w", n, err))
					}
				}
				return errors.Join(errs...)
			})
		})
	}
}

// Task errors, panics and retries through leaders are what they are flat.
func TestLeadersFailures(t *testing.T) {
	for _, k := range nodeSizes {
		withNodeSize(t, k, func(t *testing.T) {
			mpitest.Worlds(t, []int{4, 7}, func(ctx context.Context, c mpi.Comm) error {
				if c.Size() == 1 {
					return nil // under a launcher at np 1: no other rank to retry on
				}
				for _, s := range schedules {
					_, err := mpimap.Map(ctx, c, indices(100), func(_ context.Context, i int) (int, error) {
						switch i % 10 {
						case 3:
							return 0, fmt.Errorf("task %d: bad", i)
						case 7:
							panic("boom")
						}
						return i, nil
					}, mpimap.WithSchedule(s), mpimap.WithWorkers(2))
					var failed []int
					for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
						var te *mpimap.TaskError
						if !errors.As(e, &te) {
							return fmt.Errorf("%v: %v is not a TaskError", s, e)
						}
						failed = append(failed, te.Index)
					}
					if len(failed) != 20 {
						return fmt.Errorf("%v: %d task errors, want 20: %v", s, len(failed), err)
					}
					// A task that fails on its rank and works elsewhere
					// succeeds with retries.
					got, err := mpimap.Map(ctx, c, indices(40), func(_ context.Context, i int) (int, error) {
						if c.Rank() == i%c.Size() {
							return 0, fmt.Errorf("task %d refuses rank %d", i, c.Rank())
						}
						return i * 3, nil
					}, mpimap.WithSchedule(s), mpimap.WithRetries(3), mpimap.WithWorkers(2))
					if err != nil {
						return fmt.Errorf("%v, retries: %w", s, err)
					}
					for i, r := range got {
						if r != 3*i {
							return fmt.Errorf("%v, retries: result %d is %d", s, i, r)
						}
					}
				}
				return nil
			})
		})
	}
}

// A journaled map stopped through leaders resumes with every result.
func TestLeadersJournalResume(t *testing.T) {
	for _, k := range nodeSizes {
		withNodeSize(t, k, func(t *testing.T) {
			mpitest.Worlds(t, []int{4, 7}, func(ctx context.Context, c mpi.Comm) error {
				for _, s := range schedules {
					path := filepath.Join(os.TempDir(), fmt.Sprintf("hpcmap-tree-%d-%v-%d-%d.j", os.Getpid(), s, c.Size(), k))
					if c.Rank() == 0 {
						os.Remove(path)
					}
					opts := []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithJournal(path), mpimap.WithWorkers(2)}
					cctx, cancel := context.WithCancel(ctx)
					_, err := mpimap.MapN(cctx, c, 400, func(_ context.Context, i int) (point, error) {
						if c.Rank() == 0 && i%50 == 7 {
							cancel()
						}
						return square(ctx, i)
					}, opts...)
					cancel()
					if err != nil && !errors.Is(err, mpimap.ErrInterrupted) {
						return fmt.Errorf("%v: the interrupted run: %w", s, err)
					}
					if err := checkMapNJournal(ctx, c, 400, opts...); err != nil {
						return fmt.Errorf("%v: resumed: %w", s, err)
					}
					if c.Rank() == 0 {
						os.Remove(path)
					}
				}
				return nil
			})
		})
	}
}

func checkMapNJournal(ctx context.Context, c mpi.Comm, n int, opts ...mpimap.Option) error {
	got, err := mpimap.MapN(ctx, c, n, square, opts...)
	if err != nil || c.Rank() != 0 {
		return err
	}
	for i := range n {
		if want, _ := square(ctx, i); got[i] != want {
			return fmt.Errorf("result %d is %v, want %v", i, got[i], want)
		}
	}
	return nil
}

// Through leaders of 4 ranks at np 12, rank 0 exchanges map messages with
// the 3 other ranks of its node and the 2 other leaders: WithStats shows it.
func TestLeadersStats(t *testing.T) {
	withNodeSize(t, 4, func(t *testing.T) {
		mpitest.Worlds(t, []int{12}, func(ctx context.Context, c mpi.Comm) error {
			if c.Size() != 12 {
				return nil // under a launcher of another size
			}
			var stats bytes.Buffer
			var mine atomic.Int64 // the tasks this rank ran
			counted := func(ctx context.Context, i int) (point, error) {
				mine.Add(1)
				return square(ctx, i)
			}
			_, err := mpimap.Map(ctx, c, indices(2000), counted, mpimap.WithSchedule(mpimap.Dynamic),
				mpimap.WithStats(&stats), mpimap.WithWorkers(1))
			if err != nil {
				return err
			}
			ran, err := mpi.GatherSlice(c, 0, []int64{mine.Load()})
			if err != nil || c.Rank() != 0 {
				return err
			}
			peers := map[int]int{}
			for line := range strings.Lines(stats.String()) {
				f := append(strings.Fields(line), "")
				if r, err := strconv.Atoi(f[0]); err == nil && len(f) == 12 {
					peers[r], _ = strconv.Atoi(f[10])
					// Leaders merge their ranks' pieces: the statistics
					// still say which rank ran how many tasks.
					if tasks, _ := strconv.Atoi(f[3]); r < len(ran) && int64(tasks) != ran[r][0] {
						return fmt.Errorf("the statistics say rank %d ran %d tasks; it ran %d:\n%s", r, tasks, ran[r][0], stats.String())
					}
				}
			}
			if len(peers) != 12 {
				return fmt.Errorf("the statistics have %d ranks, want 12:\n%s", len(peers), stats.String())
			}
			if peers[0] > 2+3 || peers[0] == 0 {
				return fmt.Errorf("rank 0 exchanged messages with %d ranks, want at most 5:\n%s", peers[0], stats.String())
			}
			for r := 1; r < 12; r++ {
				if r%4 != 0 && peers[r] != 1 {
					return fmt.Errorf("rank %d exchanged messages with %d ranks, want only its leader:\n%s", r, peers[r], stats.String())
				}
			}
			return nil
		})
	})
}

// Jobs of 12 and 16 ranks, oversubscribed, in nodes of 3 and 4 (the last
// node short): every function, schedule and chunk through leaders, under
// both launchers.
func TestLeadersUnderLaunchers(t *testing.T) {
	mpitest.ForEachLauncher(t, "./testdata/tree", func(launcher, bin string) {
		for _, c := range []struct{ np, k int }{{12, 4}, {16, 3}} {
			t.Run(fmt.Sprintf("%s/np=%d/node=%d", launcher, c.np, c.k), func(t *testing.T) {
				t.Setenv("HPCMAP_NODE_SIZE", strconv.Itoa(c.k))
				job := mpitest.Launch(t, launcher, c.np, 240*time.Second, bin)
				if job.Exit != 0 || !strings.Contains(job.Output, "tree: 120 maps right") {
					t.Fatalf("exit %d after %v\n%s", job.Exit, job.Elapsed, job.Output)
				}
				t.Logf("%v", job.Elapsed.Round(time.Millisecond))
			})
		}
	})
}
