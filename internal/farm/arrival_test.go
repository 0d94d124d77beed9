package farm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

// Tests of what happens as tasks finish: output in the order they finish,
// --halt now at once, progress, output too large to travel whole.

func TestCompletionOrder(t *testing.T) {
	parallelInProcess(t)
	// Four slots on every world, so that all four tasks start at once and
	// finish in the order of their sleeps, not of their arguments.
	inWorlds(t, "", []string{"-j4", "sleep {}; echo {}", ":::", "2", "0.1", "1", "0.5"}, func(np int, r ran) error {
		if r.stdout != "0.1\n0.5\n1\n2\n" || r.status != 0 {
			return fmt.Errorf("output %q, exit %d; want the tasks in the order they finished", r.stdout, r.status)
		}
		return nil
	})
}

func TestHaltNow(t *testing.T) {
	parallelInProcess(t)
	// Every task starts at once; one fails after 0.3 s, and the others,
	// which would run 60 s, must be killed then, wherever they run.
	args := []string{"-j2", "--grace", "1", "--halt", "now,fail=1",
		"if [ {} = fail ]; then sleep 0.3; exit 4; fi; trap 'echo stopped {}; exit 1' TERM; sleep 60 & wait", ":::"}
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		start := time.Now()
		tasks := append(args, "fail")
		for k := 1; k < 2*c.Size(); k++ {
			tasks = append(tasks, fmt.Sprint("long", k))
		}
		r, err := farmRun(ctx, c, "", tasks...)
		if err != nil || c.Rank() != 0 {
			return err
		}
		took := time.Since(start)
		if r.status != 4 || took > 20*time.Second || !strings.Contains(r.stderr, "This job failed:") {
			return fmt.Errorf("exit %d after %v, stderr %q; want 4 (the failed task's) within seconds, not 60", r.status, took, r.stderr)
		}
		if strings.Contains(r.stdout, "stopped") {
			return fmt.Errorf("output %q: tasks killed by --halt now are not printed", r.stdout)
		}
		return nil
	})
}

func TestProgress(t *testing.T) {
	inWorlds(t, "", []string{"--bar", "true", ":::", "a", "b", "c"}, func(np int, r ran) error {
		if !strings.Contains(r.stderr, "progress: 3/3 (100%)") || r.status != 0 {
			return fmt.Errorf("stderr %q, exit %d; want a progress line for all 3 tasks", r.stderr, r.status)
		}
		return nil
	})
}

// TestLargeOutput prints tasks' output of several megabytes, more than a
// result carries, beside small output: the large waits on the rank that
// ran the task and comes to rank 0 in pieces, each line tagged, in order.
func TestLargeOutput(t *testing.T) {
	const size = (inlineOutput + 1<<20 + 999) / 1000 * 1000 // bytes of 1000-byte lines, beyond what a result carries
	line := strings.Repeat("x", 998)                        // and the value and a newline: 1000 bytes
	args := []string{"-k", "--tag", "yes {}" + line + " | head -c $(({}*" + fmt.Sprint(size) + ")); echo err {} >&2", ":::", "1", "0", "2"}
	var want strings.Builder
	for _, v := range []string{"1", "0", "2"} {
		n := size * int(v[0]-'0') / 1000
		want.WriteString(strings.Repeat(v+"\t"+v+line+"\n", n))
	}
	inWorlds(t, "", args, func(np int, r ran) error {
		if r.stdout != want.String() || r.stderr != "1\terr 1\n0\terr 0\n2\terr 2\n" || r.status != 0 {
			return fmt.Errorf("%d bytes of output (want %d), stderr %q, exit %d", len(r.stdout), want.Len(), r.stderr, r.status)
		}
		return nil
	})
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestOutputFails: when rank 0 cannot write the output, the farm stops
// dealing, lets the running tasks end, says why and exits 255; the job does
// not abort.
func TestOutputFails(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		var errw strings.Builder
		status, err := Run(ctx, c, []string{"echo", ":::", "a", "b", "c"}, Stdio{Stdin: strings.NewReader(""), Stdout: failingWriter{}, Stderr: &errw})
		if err != nil || c.Rank() != 0 {
			return err
		}
		if status != exitError || !strings.Contains(errw.String(), "no space left on device") {
			return fmt.Errorf("exit %d, stderr %q; want 255 and the writer's error", status, errw.String())
		}
		return nil
	})
}

// TestFailureJustBeforeAStop: Slurm signals the tasks with the ranks, so a
// task may die of the signal and its result reach rank 0 before rank 0 has
// seen the signal itself. A task that fails within the second before the
// stop counts as interrupted: out of the joblog, run again by --resume.
func TestFailureJustBeforeAStop(t *testing.T) {
	parallelInProcess(t)
	mpitest.Worlds(t, []int{1, 2}, func(ctx context.Context, c mpi.Comm) error {
		dir, err := sharedDir(t, c)
		if err != nil {
			return err
		}
		log, mark := filepath.Join(dir, "joblog"), filepath.Join(dir, "failed")
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() { // the signal, 0.3 s after the first task died of it
			for _, err := os.Stat(mark); err != nil; _, err = os.Stat(mark) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			stop()
		}()
		r, err := farmRun(ctx, c, "", "-j1", "--grace", "1", "--joblog", log,
			"if [ {} = 1 ]; then touch "+mark+"; exit 1; fi; sleep 30", ":::", "1", "2")
		if err != nil || c.Rank() != 0 {
			return err
		}
		data, _ := os.ReadFile(log)
		if lines := strings.Count(string(data), "\n"); lines != 1 || !strings.Contains(r.stderr, "2 were interrupted (1 2)") {
			return fmt.Errorf("joblog\n%s\nstderr %q; want the header alone, and both tasks interrupted", data, r.stderr)
		}
		return nil
	})
}
