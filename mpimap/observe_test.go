package mpimap_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// lockedBuffer is a writer that tests read after the map.
type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// TestObserveAMap runs a Dynamic map of tasks of uneven length with every
// observer on: the tasks' log lines come out in argument order, the
// statistics table's task counts add up to n, the trace has every task once,
// and progress reaches n/n.
func TestObserveAMap(t *testing.T) {
	mpitest.Worlds(t, []int{3}, func(ctx context.Context, c mpi.Comm) error {
		const n = 60
		var logs, stats, progress lockedBuffer
		trace := filepath.Join(os.TempDir(), fmt.Sprintf("hpcmap-trace-%d-%d.csv", os.Getpid(), c.Rank()))
		defer os.Remove(trace)
		_, err := mpimap.Map(ctx, c, indices(n), func(ctx context.Context, i int) (int, error) {
			log := mpimap.Logger(ctx)
			log.Info("start", "i", i)
			time.Sleep(time.Duration(i%7) * time.Millisecond) // uneven
			log.Info("end", "square", i*i)
			return i * i, nil
		}, mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithWorkers(2),
			mpimap.WithLogs(slog.NewTextHandler(&logs, nil)), mpimap.WithStats(&stats),
			mpimap.WithProgress(&progress), mpimap.WithTrace(trace))
		if err != nil || c.Rank() != 0 {
			return err
		}

		// Logs: two lines per task, tagged, in argument order.
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 2*n {
			return fmt.Errorf("%d log lines, want %d:\n%s", len(lines), 2*n, logs.String())
		}
		task := regexp.MustCompile(` task=(\d+) rank=(\d+) host=\S+`)
		for k, line := range lines {
			m := task.FindStringSubmatch(line)
			if m == nil || m[1] != strconv.Itoa(k/2) || !strings.Contains(line, []string{"msg=start", "msg=end"}[k%2]) {
				return fmt.Errorf("log line %d out of order or untagged: %q", k, line)
			}
		}

		// Statistics: one row per rank, task counts adding up to n.
		total := 0
		row := regexp.MustCompile(`^\s*(\d+)\s+\S+\s+(\d+)\s+(\d+)\s`)
		for line := range strings.Lines(stats.String()) {
			if strings.Contains(line, "host") && strings.Contains(line, "ranks") {
				break // the per-host part
			}
			if m := row.FindStringSubmatch(line); m != nil {
				tasks, _ := strconv.Atoi(m[3])
				total += tasks
			}
		}
		if total != n {
			return fmt.Errorf("the statistics count %d tasks, want %d:\n%s", total, n, stats.String())
		}

		// Trace: every task once, with its times in order.
		f, err := os.Open(trace)
		if err != nil {
			return err
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			return err
		}
		if strings.Join(rows[0], ",") != mpimap.TraceHeader {
			return fmt.Errorf("trace header %v", rows[0])
		}
		seen := map[int]bool{}
		for _, r := range rows[1:] {
			i, _ := strconv.Atoi(r[0])
			start, _ := strconv.ParseFloat(r[4], 64)
			end, _ := strconv.ParseFloat(r[5], 64)
			if seen[i] || r[7] != "ok" || end < start || r[6] != "1" {
				return fmt.Errorf("trace row %v (seen before: %v)", r, seen[i])
			}
			seen[i] = true
		}
		if len(seen) != n {
			return fmt.Errorf("the trace has %d tasks, want %d", len(seen), n)
		}

		// Progress: a plain log (not a terminal) that ends at n/n.
		if !strings.Contains(progress.String(), fmt.Sprintf("%d/%d", n, n)) || strings.Contains(progress.String(), "\r") {
			return fmt.Errorf("progress did not reach %d/%d as plain lines:\n%q", n, n, progress.String())
		}
		return nil
	})
}

// TestProgressRateAfterResume checks that tasks resumed from a journal count
// as done but not towards the rate: 20 tasks run in 40 s are 0.5 tasks/s,
// and the 30 left take a minute, however many the journal held.
func TestProgressRateAfterResume(t *testing.T) {
	for _, tc := range []struct{ resumed, done int }{{0, 20}, {50, 70}} {
		line := mpimap.ProgressLine(100, tc.resumed, tc.done, 40*time.Second)
		want := fmt.Sprintf("progress: %d/100 (%d%%), 0.50 tasks/s", tc.done, tc.done)
		if !strings.HasPrefix(line, want) {
			t.Errorf("resumed %d, done %d: got %q, want it to start with %q", tc.resumed, tc.done, line, want)
		}
	}
}

// TestProgressIntoALog launches a map whose progress goes to stdout, with
// mpirun's output going to a pipe, as into a batch log, from a shell with a
// TERM: the report must be plain lines, though Open MPI gives its ranks a
// pseudo-terminal.
func TestProgressIntoALog(t *testing.T) {
	t.Setenv("TERM", "xterm")
	t.Setenv("SLURM_JOB_ID", "")
	mpitest.ForEachLauncher(t, "./testdata/progress", func(launcher, bin string) {
		job := mpitest.Launch(t, launcher, 2, 30*time.Second, bin)
		if job.Exit != 0 || !strings.Contains(job.Output, "progress: 50/50 (100%)") || strings.Contains(job.Output, "\r") {
			t.Errorf("%s: exit %d, want 0 and plain progress lines ending at 50/50:\n%q", launcher, job.Exit, job.Output)
		}
	})
}

// TestLoggerOutsideMap: outside a Map, Logger is a usable logger.
func TestLoggerOutsideMap(t *testing.T) {
	if mpimap.Logger(context.Background()) == nil {
		t.Fatal("nil logger outside a Map")
	}
}
