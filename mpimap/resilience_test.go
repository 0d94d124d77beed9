package mpimap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

func TestRetriesMoveToAnotherRank(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			// Task i fails on rank i mod np and works elsewhere: with
			// retries on another rank every task succeeds, unless there is
			// no other rank.
			fn := func(_ context.Context, i int) (int, error) {
				if c.Rank() == i%c.Size() {
					return 0, fmt.Errorf("task %d refuses rank %d", i, c.Rank())
				}
				return i * 3, nil
			}
			got, err := mpimap.Map(ctx, c, indices(40), fn, mpimap.WithSchedule(s), mpimap.WithRetries(2), mpimap.WithWorkers(2))
			if c.Size() == 1 {
				var te *mpimap.TaskError
				if !errors.As(err, &te) || te.Attempts != 3 || !strings.Contains(err.Error(), "(attempt 3)") {
					return fmt.Errorf("%v, one rank: got %v, want every task failed after 3 attempts", s, err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("%v: retries on another rank should have succeeded: %v", s, err)
			}
			if c.Rank() == 0 {
				for i, r := range got {
					if r != i*3 {
						return fmt.Errorf("%v: result %d is %d", s, i, r)
					}
				}
			}
		}
		return nil
	})
}

func TestRetriesGiveUp(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		var calls atomic.Int64
		_, err := mpimap.Map(ctx, c, indices(10), func(_ context.Context, i int) (int, error) {
			if i == 4 {
				calls.Add(1)
				return 0, errors.New("always fails")
			}
			return i, nil
		}, mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithRetries(3))
		var te *mpimap.TaskError
		if !errors.As(err, &te) || te.Index != 4 || te.Attempts != 4 {
			return fmt.Errorf("got %v, want task 4 failed after 4 attempts", err)
		}
		total, err := allSum(c, calls.Load())
		if err != nil || total != 4 {
			return fmt.Errorf("task 4 ran %d times in all (%v), want 4", total, err)
		}
		return nil
	})
}

// allSum is the sum of x over every rank, on every rank.
func allSum(c mpi.Comm, x int64) (int64, error) {
	sum := make([]int64, 1)
	err := c.Allreduce(mpi.Bytes(sum), mpi.Bytes([]int64{x}), mpi.Int64, mpi.Sum)
	return sum[0], err
}

func TestTaskTimeout(t *testing.T) {
	mpitest.Worlds(t, []int{1, 3}, func(ctx context.Context, c mpi.Comm) error {
		release := make(chan struct{})
		defer close(release)
		got, err := mpimap.Map(ctx, c, indices(12), func(ctx context.Context, i int) (int, error) {
			switch i {
			case 3: // ignores its context: abandoned at the deadline
				<-release
			case 7: // honours it
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return i + 100, nil
		}, mpimap.WithTaskTimeout(50*time.Millisecond), mpimap.WithSchedule(mpimap.Cyclic))
		var timedOut []int
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var te *mpimap.TaskError
			if !errors.As(e, &te) || !errors.Is(te, context.DeadlineExceeded) {
				return fmt.Errorf("error %v is not a TaskError for a deadline", e)
			}
			timedOut = append(timedOut, te.Index)
		}
		if !slices.Equal(timedOut, []int{3, 7}) {
			return fmt.Errorf("tasks %v timed out, want [3 7]", timedOut)
		}
		if c.Rank() == 0 && (got[0] != 100 || got[11] != 111 || got[3] != 0) {
			return fmt.Errorf("results %v", got)
		}
		return nil
	})
}

func TestJournalResume(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		for _, s := range schedules {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("hpcmap-journal-%d-%v-%d.j", os.Getpid(), s, c.Size()))
			if c.Rank() == 0 {
				os.Remove(path)
				defer os.Remove(path)
			}
			const n = 300
			executed := func(fn func(int)) func(context.Context, int) (float64, error) {
				return func(ctx context.Context, i int) (float64, error) {
					fn(i)
					return float64(i) / 7, nil
				}
			}
			// The first run is stopped by rank 0 in its first task: rank 0
			// always has one at the start, whatever the schedule.
			cctx, cancel := context.WithCancel(ctx)
			var count atomic.Int32
			_, err := mpimap.Map(cctx, c, indices(n), executed(func(int) {
				time.Sleep(100 * time.Microsecond)
				if c.Rank() == 0 && count.Add(1) == 1 {
					cancel()
				}
			}), mpimap.WithSchedule(s), mpimap.WithJournal(path), mpimap.WithWorkers(1))
			cancel()
			if !errors.Is(err, mpimap.ErrInterrupted) {
				return fmt.Errorf("%v, first run: got %v, want ErrInterrupted", s, err)
			}
			var journaled []int
			if c.Rank() == 0 {
				if journaled, err = mpimap.JournaledTasks(path); err != nil {
					return err
				}
				if len(journaled) == 0 || len(journaled) == n {
					return fmt.Errorf("%v: %d tasks journaled by the interrupted run", s, len(journaled))
				}
				if done, tasks, err := mpimap.JournalProgress(path); err != nil || done != len(journaled) || tasks != n {
					return fmt.Errorf("%v: JournalProgress of the interrupted run = %d of %d, %v; want %d of %d",
						s, done, tasks, err, len(journaled), n)
				}
			}
			// The second run finishes, running only what the journal lacks.
			var ran []int64
			var mu atomic.Int32 // guards ran: workers append concurrently
			var progress, stats lockedBuffer
			got, err := mpimap.Map(ctx, c, indices(n), executed(func(i int) {
				for !mu.CompareAndSwap(0, 1) {
				}
				ran = append(ran, int64(i))
				mu.Store(0)
			}), mpimap.WithSchedule(s), mpimap.WithJournal(path), mpimap.WithProgress(&progress), mpimap.WithStats(&stats))
			if err != nil {
				return fmt.Errorf("%v, resumed run: %v", s, err)
			}
			said := fmt.Sprintf("progress: %d/%d (%.0f%%) from the journal %s\n", len(journaled), n, 100*float64(len(journaled))/n, path)
			if c.Rank() == 0 && !strings.HasPrefix(progress.String(), said) {
				return fmt.Errorf("%v: the resumed run's progress begins %q, want %q", s, progress.String(), said)
			}
			said = fmt.Sprintf("\n%d of the %d tasks came from the journal, not run\n", len(journaled), n)
			if c.Rank() == 0 && !strings.HasSuffix(stats.String(), said) {
				return fmt.Errorf("%v: the resumed run's statistics end %q, want %q", s, stats.String(), said)
			}
			all, err := mpi.AllgatherSlice(c, ran)
			if err != nil {
				return err
			}
			if c.Rank() == 0 {
				if done, tasks, err := mpimap.JournalProgress(path); err != nil || done != n || tasks != n {
					return fmt.Errorf("%v: JournalProgress of the finished map = %d of %d, %v", s, done, tasks, err)
				}
				rerun := slices.Concat(all...)
				for i := range n {
					if got[i] != float64(i)/7 {
						return fmt.Errorf("%v: resumed result %d is %v", s, i, got[i])
					}
					inJournal := slices.Contains(journaled, i)
					if times := countOf(rerun, int64(i)); inJournal && times != 0 || !inJournal && times != 1 {
						return fmt.Errorf("%v: task %d (journaled: %v) ran %d times on resume", s, i, inJournal, times)
					}
				}
			}
			// A journal of another map is refused on every rank.
			_, err = mpimap.Map(ctx, c, indices(n+1), executed(func(int) {}), mpimap.WithSchedule(s), mpimap.WithJournal(path))
			if err == nil || c.Rank() == 0 && !strings.Contains(err.Error(), "different map") {
				return fmt.Errorf("%v: a journal of another map gave %v", s, err)
			}
		}
		return nil
	})
}

// TestCountTasks counts task indices below, at and above the bitset's bound,
// each twice and out of order.
func TestCountTasks(t *testing.T) {
	indices := []int{3, 64, 0, 1 << 40, 127, 3, 200, 1 << 40, 64, 199, 0, 128}
	for _, bound := range []int64{0, 1, 64, 128, 200, 1 << 20} {
		if got := mpimap.CountTasks(bound, indices); got != 8 {
			t.Errorf("bound %d: counted %d distinct tasks, want 8", bound, got)
		}
	}
}

func countOf(s []int64, x int64) int {
	n := 0
	for _, v := range s {
		if v == x {
			n++
		}
	}
	return n
}

func TestJournalTornRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "torn.j")
	square := func(_ context.Context, i int) (int, error) { return i * i, nil }
	run := func(args []int) ([]int, error) {
		var got []int
		err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
			var err error
			got, err = mpimap.Map(ctx, c, args, square, mpimap.WithJournal(path))
			return err
		})
		return got, err
	}
	if _, err := run(indices(50)); err != nil {
		t.Fatal(err)
	}
	// Cut the last record short, as a kill mid-write would: it is dropped.
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-2], 0o644)
	if tasks, _ := mpimap.JournaledTasks(path); len(tasks) != 49 {
		t.Fatalf("%d records survive a torn last record, want 49", len(tasks))
	}
	if done, tasks, err := mpimap.JournalProgress(path); done != 49 || tasks != 50 || err != nil {
		t.Fatalf("JournalProgress after a torn last record = %d of %d, %v; want 49 of 50", done, tasks, err)
	}
	got, err := run(indices(50))
	if err != nil || got[49] != 49*49 {
		t.Fatalf("after a torn record: %v, result 49 = %v", err, got[49])
	}
	// Not a journal at all.
	os.WriteFile(path, []byte("results,of,something,else\n"), 0o644)
	if _, _, err := mpimap.JournalProgress(path); err == nil || !strings.Contains(err.Error(), "not an hpcmap journal") {
		t.Fatalf("JournalProgress of a foreign file: %v", err)
	}
	if _, err := run(indices(50)); err == nil || !strings.Contains(err.Error(), "not an hpcmap journal") {
		t.Fatalf("a foreign file as journal: %v", err)
	}
	os.WriteFile(path, []byte("hpcmap journal 2\n\x05abc"), 0o644)
	if _, _, err := mpimap.JournalProgress(path); err == nil || !strings.Contains(err.Error(), "header is damaged") {
		t.Fatalf("JournalProgress of a journal with a torn header: %v", err)
	}
	// A journal of an earlier hpcmap, whose header says too little.
	os.WriteFile(path, []byte("hpcmap journal 1\n\x05abcde"), 0o644)
	if _, err := run(indices(50)); err == nil || !strings.Contains(err.Error(), "older hpcmap (journal format 1)") {
		t.Fatalf("a journal of format 1: %v", err)
	}
	if _, _, err := mpimap.JournalProgress(path + ".missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("JournalProgress of a missing file: %v", err)
	}
	// A file that cannot be read is a read error, not a foreign journal.
	dir := t.TempDir()
	if _, _, err := mpimap.JournalProgress(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("JournalProgress of a directory: %v", err)
	}
}

// TestJournalDamageKeepsTheRest: one byte changed in the middle of a
// journal of 150 records damages one record. Reading it skips that record and
// says so; resuming keeps every other record, in the file too, and runs only
// the damaged task again. A changed length field, which loses the record
// boundary, is no different.
func TestJournalDamageKeepsTheRest(t *testing.T) {
	const n = 150
	var calls atomic.Int32
	cube := func(_ context.Context, i int) (int, error) { calls.Add(1); return i * i * i, nil }
	for _, where := range []string{"result", "length"} {
		path := filepath.Join(t.TempDir(), "j")
		run := func() ([]int, string, error) {
			var got []int
			var progress strings.Builder
			calls.Store(0)
			err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
				var err error
				got, err = mpimap.Map(ctx, c, indices(n), cube, mpimap.WithJournal(path, "cube"), mpimap.WithProgress(&progress))
				return err
			})
			return got, progress.String(), err
		}
		if _, _, err := run(); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		// The 75th record: its mark, index, length (one byte) and result.
		var marks []int
		for off := 0; ; off++ {
			k := bytes.Index(data[off:], []byte{0xd5, 0x4a})
			if k < 0 {
				break
			}
			off += k
			marks = append(marks, off)
		}
		if len(marks) != n {
			t.Fatalf("%d record marks in the journal, want %d", len(marks), n)
		}
		at := marks[75] + 2 + 1 // the length field, after a one-byte index
		if data[marks[75]+2] >= 0x80 {
			at++ // a two-byte index
		}
		if where == "result" {
			at++
		}
		data[at] ^= 0x5a
		os.WriteFile(path, data, 0o644)

		info, err := mpimap.InspectJournal(path)
		if err != nil || info.Done != n-1 || info.Tasks != n || info.Damaged != 1 || info.Torn != 0 ||
			!slices.Equal(info.Key, []string{"cube"}) {
			t.Fatalf("%s: InspectJournal = %+v, %v; want %d of %d done, 1 damaged stretch, key [cube]", where, info, err, n-1, n)
		}
		got, progress, err := run()
		if err != nil || calls.Load() != 1 {
			t.Fatalf("%s: resumed with %v, running %d tasks, want 1", where, err, calls.Load())
		}
		for i, r := range got {
			if r != i*i*i {
				t.Fatalf("%s: result %d = %d", where, i, r)
			}
		}
		if !strings.Contains(progress, "has 1 stretch of damaged bytes") || !strings.Contains(progress, "149 good records") {
			t.Errorf("%s: the resumed map's progress does not say what it skipped:\n%s", where, progress)
		}
		after, _ := os.ReadFile(path)
		if !bytes.HasPrefix(after, data) {
			t.Errorf("%s: resuming changed the journal's first %d bytes", where, len(data))
		}
		if info, err := mpimap.InspectJournal(path); err != nil || info.Done != n || info.Damaged != 1 {
			t.Errorf("%s: after the resume, InspectJournal = %+v, %v; want all %d done, the damage still there", where, info, err, n)
		}
	}
}

func TestDrainAbandonsTasksAfterGrace(t *testing.T) {
	for _, byOption := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithDrainGrace=%v", byOption), func(t *testing.T) { drainAbandons(t, byOption) })
	}
}

// drainAbandons runs a map whose tasks ignore its stop, with a grace of 100
// ms: set by the option, or as the default.
func drainAbandons(t *testing.T, byOption bool) {
	opts := []mpimap.Option{mpimap.WithWorkers(4)}
	if byOption {
		opts = append(opts, mpimap.WithDrainGrace(100*time.Millisecond))
	} else {
		defer mpimap.SetDrainGrace(100 * time.Millisecond)()
	}
	mpitest.Worlds(t, []int{1, 2}, func(ctx context.Context, c mpi.Comm) error {
		release := make(chan struct{})
		defer close(release)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		got, err := mpimap.Map(cctx, c, indices(8), func(_ context.Context, i int) (int, error) {
			if i == 0 {
				cancel() // on rank 0, which owns task 0 under Block
			}
			if i%2 == 1 {
				<-release // ignores the stop: abandoned after the grace
			}
			return i + 1, nil
		}, opts...)
		if !errors.Is(err, mpimap.ErrInterrupted) {
			return fmt.Errorf("got %v, want ErrInterrupted", err)
		}
		if c.Rank() == 0 && (got[0] != 1 || got[1] != 0) {
			return fmt.Errorf("results %v: want task 0 kept and abandoned task 1 zero", got)
		}
		return nil
	})
}

// Tasks far longer than a round trip are dealt a chunk per goroutine, never
// fewer: six long tasks on two ranks of two goroutines run four at a time,
// where the fair share alone would give each rank one.
func TestLongTasksFillEveryGoroutine(t *testing.T) {
	mpitest.Worlds(t, []int{2}, func(ctx context.Context, c mpi.Comm) error {
		if c.Size() != 2 {
			return nil // under a launcher of another size
		}
		var running, most atomic.Int32
		_, err := mpimap.Map(ctx, c, indices(6), func(_ context.Context, i int) (int, error) {
			now := running.Add(1)
			for old := most.Load(); now > old && !most.CompareAndSwap(old, now); old = most.Load() {
			}
			time.Sleep(300 * time.Millisecond)
			running.Add(-1)
			return i, nil
		}, mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithWorkers(2))
		if err != nil {
			return err
		}
		all, err := allSum(c, int64(most.Load()))
		if err != nil || all < 4 {
			return fmt.Errorf("at most %d tasks ran at once on the two ranks (%v), want 4", all, err)
		}
		return nil
	})
}
