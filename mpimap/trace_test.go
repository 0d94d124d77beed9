package mpimap_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
	"github.com/hpcmap/hpcmap/trace"
)

// TestTraceRoundTrip: a trace that WithTrace writes is read by package
// trace, row for row: every attempt once, with the rank, worker, attempt and
// status that it had, tasks that failed or panicked once and then ran again
// included.
func TestTraceRoundTrip(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("hpcmap-trace-rt-%d-%v-%d.csv", os.Getpid(), s, c.Size()))
			if c.Rank() == 0 {
				defer os.Remove(path)
			}
			const n = 40
			// Task i ≡ 1 mod 5 fails on rank i mod np, i ≡ 3 panics there:
			// once where there are other ranks, on every attempt where not.
			refuses := func(rank, i int) bool { return rank == i%c.Size() }
			_, err := mpimap.Map(ctx, c, indices(n), func(ctx context.Context, i int) (int, error) {
				switch {
				case i%5 == 1 && refuses(c.Rank(), i):
					return 0, errors.New("refused")
				case i%5 == 3 && refuses(c.Rank(), i):
					panic("refused")
				}
				return i, nil
			}, mpimap.WithSchedule(s), mpimap.WithWorkers(2), mpimap.WithRetries(1), mpimap.WithTrace(path))
			if c.Size() == 1 && err == nil || c.Size() > 1 && err != nil {
				return fmt.Errorf("%v: Map: %v", s, err)
			}
			if c.Rank() != 0 {
				continue
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			r := trace.NewReader(f)
			tasks, err := r.ReadAll()
			f.Close()
			if err != nil || r.Torn() {
				return fmt.Errorf("%v: reading the trace: %v (torn: %v)", s, err, r.Torn())
			}
			seen := map[[2]int]trace.Task{}
			for _, task := range tasks {
				key := [2]int{task.Index, task.Attempt}
				want := trace.StatusOK
				if refuses(task.Rank, task.Index) {
					want = [5]trace.Status{1: trace.StatusFailed, 3: trace.StatusPanicked}[task.Index%5]
				}
				if _, twice := seen[key]; twice || task.Index >= n || task.Rank >= c.Size() || task.Worker >= 2 ||
					task.Attempt > 2 || task.Status != want || task.End < task.Start {
					return fmt.Errorf("%v: row %+v (twice: %v), want status %v", s, task, twice, want)
				}
				seen[key] = task
			}
			// Every task's first attempt, and a second for those that
			// failed it.
			for i := range n {
				first, ok := seen[[2]int{i, 1}]
				_, retried := seen[[2]int{i, 2}]
				if !ok || retried != (first.Status != trace.StatusOK) {
					return fmt.Errorf("%v: task %d: first attempt %+v (in the trace: %v), retried: %v", s, i, first, ok, retried)
				}
			}
		}
		return nil
	})
}

// TestTraceFlushedWhileRunning: rows reach the file within about a second
// of their task's end, while the map still runs, so that a trace read during
// a run, or after a kill, has them.
func TestTraceFlushedWhileRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.csv")
	release := make(chan struct{})
	found := make(chan error, 1)
	go func() {
		// Tasks 0-4 end at once; task 5 waits until their rows are read.
		defer close(release)
		deadline := time.Now().Add(3 * time.Second)
		for {
			f, err := os.Open(path)
			var tasks []trace.Task
			if err == nil {
				tasks, err = trace.ReadCSV(f)
				f.Close()
			}
			if err == nil && len(tasks) == 5 {
				found <- nil
				return
			}
			if time.Now().After(deadline) {
				found <- fmt.Errorf("3 s after 5 tasks ended, the trace holds %d rows (%v), want 5", len(tasks), err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
		_, err := mpimap.Map(ctx, c, indices(6), func(_ context.Context, i int) (int, error) {
			if i == 5 {
				<-release
			}
			return i, nil
		}, mpimap.WithWorkers(1), mpimap.WithTrace(path))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-found; err != nil {
		t.Fatal(err)
	}
}
