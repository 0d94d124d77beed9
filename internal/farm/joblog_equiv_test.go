package farm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

// comparable are a joblog's lines by Seq, without the columns that say
// where and when (Host, Starttime, JobRuntime).
func comparableJoblog(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0]+"\n" != joblogHeader {
		return nil, fmt.Errorf("%s: header %q", path, lines[0])
	}
	var out []string
	for _, l := range lines[1:] {
		f := strings.SplitN(l, "\t", 9)
		if len(f) != 9 {
			return nil, fmt.Errorf("%s: line %q", path, l)
		}
		out = append(out, strings.Join(append([]string{f[0]}, f[4:]...), "\t"))
	}
	slices.SortFunc(out, func(a, b string) int {
		var x, y int
		fmt.Sscan(a, &x)
		fmt.Sscan(b, &y)
		return x - y
	})
	return out, nil
}

// TestJoblogAsGNUParallel runs failing tasks with --joblog through GNU
// Parallel and the farm, then --resume-failed through each on its own
// joblog, and --resume-failed through GNU Parallel on the farm's joblog:
// the joblogs agree but for host and times, the exit statuses agree, and
// GNU Parallel reads the farm's joblog as its own.
func TestJoblogAsGNUParallel(t *testing.T) {
	parallelInProcess(t)
	task := []string{"--timeout", "0.5", "--grace", "0.5", "printf %s {}; case {} in k*) kill -9 $$;; t*) sleep 10;; esac; exit {#}0"}
	inputs := []string{":::", "ok", "bad", "kill", "t/o", "x\ny", "$(touch PWNED)"}
	gnuOpts := func(log string, extra ...string) []string {
		// GNU Parallel has no --grace; the rest is the same command line.
		return append(append([]string{"-0", "--joblog", log, "--timeout", "0.5"}, extra...), append(task[4:], inputs...)...)
	}
	farmOpts := func(log string, extra ...string) []string {
		return append(append([]string{"-0", "--joblog", log}, extra...), append(task, inputs...)...)
	}
	// GNU Parallel's joblogs, first run and --resume-failed, whatever the
	// farm's size: run once, the first time rank 0 needs them.
	gnuDir := t.TempDir()
	gnuLog := filepath.Join(gnuDir, "gnu.log")
	var once sync.Once
	var gnuFirst, gnuResumed []string
	var gnuStatus [2]int
	var gnuErr error
	gnu := func() error {
		once.Do(func() {
			var r ran
			if r, gnuErr = gnuParallel(gnuDir, "", gnuOpts(gnuLog)...); gnuErr != nil {
				return
			}
			gnuStatus[0] = r.status
			if gnuFirst, gnuErr = comparableJoblog(gnuLog); gnuErr != nil {
				return
			}
			if r, gnuErr = gnuParallel(gnuDir, "", gnuOpts(gnuLog, "--resume-failed")...); gnuErr != nil {
				return
			}
			gnuStatus[1] = r.status
			gnuResumed, gnuErr = comparableJoblog(gnuLog)
		})
		return gnuErr
	}
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		dir, err := sharedDir(t, c)
		if err != nil {
			return err
		}
		farmLog := filepath.Join(dir, "farm.log")
		got, err := farmRun(ctx, c, "", farmOpts(farmLog)...)
		if err != nil {
			return err
		}
		if c.Rank() == 0 {
			if err := gnu(); err != nil {
				return err
			}
			if err := sameAsJoblog(gnuFirst, farmLog, got.status, gnuStatus[0]); err != nil {
				return fmt.Errorf("first run: %w", err)
			}
			copyFile(farmLog, filepath.Join(dir, "farm-for-gnu.log"))
		}
		// --resume-failed: the failed tasks again, appended.
		got, err = farmRun(ctx, c, "", farmOpts(farmLog, "--resume-failed")...)
		if err != nil || c.Rank() != 0 {
			return err
		}
		if err := sameAsJoblog(gnuResumed, farmLog, got.status, gnuStatus[1]); err != nil {
			return fmt.Errorf("--resume-failed: %w", err)
		}
		// GNU Parallel resuming from the farm's joblog runs what the farm ran.
		other, err := gnuParallel(dir, "", gnuOpts(filepath.Join(dir, "farm-for-gnu.log"), "--resume-failed")...)
		if err != nil {
			return err
		}
		if err := sameJoblogs(filepath.Join(dir, "farm-for-gnu.log"), farmLog, got.status, other.status); err != nil {
			return fmt.Errorf("GNU Parallel --resume-failed on the farm's joblog: %w", err)
		}
		if _, err := os.Stat("PWNED"); err == nil {
			return fmt.Errorf("an argument ran as code")
		}
		return nil
	})
}

func sameJoblogs(gnuLog, farmLog string, got, want int) error {
	g, err := comparableJoblog(gnuLog)
	if err != nil {
		return err
	}
	return sameAsJoblog(g, farmLog, got, want)
}

// sameAsJoblog compares the farm's joblog with GNU Parallel's lines.
func sameAsJoblog(g []string, farmLog string, got, want int) error {
	f, err := comparableJoblog(farmLog)
	if err != nil {
		return err
	}
	if !slices.Equal(g, f) || got != want {
		return fmt.Errorf("farm's joblog (exit %d)\n%s\nGNU Parallel's (exit %d)\n%s",
			got, strings.Join(f, "\n"), want, strings.Join(g, "\n"))
	}
	return nil
}

func copyFile(from, to string) {
	data, _ := os.ReadFile(from)
	os.WriteFile(to, data, 0o666)
}
