package farm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

// inWorlds runs check on rank 0's outcome of the farm with args, at every
// size.
func inWorlds(t *testing.T, stdin string, args []string, check func(np int, r ran) error) {
	t.Helper()
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, err := farmRun(ctx, c, stdin, args...)
		if err != nil || c.Rank() != 0 {
			return err
		}
		return check(c.Size(), r)
	})
}

func TestRetries(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		dir, err := sharedDir(t, c)
		if err != nil {
			return err
		}
		// Task n fails until it has run n times: with 3 attempts, 1 to 3 pass.
		task := fmt.Sprintf(`echo x >> %s/{#}; test $(wc -l < %[1]s/{#}) -ge {}`, dir)
		log := filepath.Join(dir, "log")
		r, err := farmRun(ctx, c, "", "--retries", "3", "--joblog", log, task, ":::", "1", "2", "3", "5")
		if err != nil || c.Rank() != 0 {
			return err
		}
		data, _ := os.ReadFile(log)
		if r.status != 1 || strings.Count(string(data), "\n") != 5 {
			return fmt.Errorf("exit %d, joblog\n%s\nwant 1 (task 4 fails every attempt) and one line per task", r.status, data)
		}
		runs, _ := os.ReadFile(filepath.Join(dir, "4"))
		if n := strings.Count(string(runs), "x"); n != 3 {
			return fmt.Errorf("task 4 ran %d times, want 3 (--retries counts attempts)", n)
		}
		return nil
	})
}

func TestHaltSoon(t *testing.T) {
	// The tasks that succeed take a while, so that how many start before
	// rank 0 hears of the failure does not hang on how loaded the machine is.
	args := []string{"-j1", "--halt", "soon,fail=1", "echo {#}; test {} = 3 || sleep 0.2; exit {}", ":::"}
	for k := range 200 {
		args = append(args, map[bool]string{true: "3", false: "0"}[k == 2])
	}
	inWorlds(t, "", args, func(np int, r ran) error {
		if ran := strings.Count(r.stdout, "\n"); r.status != 3 || !strings.Contains(r.stderr, "This job failed:\necho 3; test 3 = 3 || sleep 0.2; exit 3\n") || ran > 10+4*np {
			return fmt.Errorf("exit %d, %d of 200 tasks ran, stderr %q; want 3 (the failed task's), at most %d tasks (those under way when rank 0 heard), GNU Parallel's message",
				r.status, ran, r.stderr, 10+4*np)
		}
		return nil
	})
}

func TestResults(t *testing.T) {
	mpitest.Worlds(t, []int{2}, func(ctx context.Context, c mpi.Comm) error { // a thousand tasks: one size
		dir, err := sharedDir(t, c)
		if err != nil {
			return err
		}
		res := filepath.Join(dir, "results")
		args := []string{"--results", res, "echo out {}; echo err {} >&2; exit {}", ":::"}
		for k := range 1001 {
			args = append(args, strconv.Itoa(k%3))
		}
		r, err := farmRun(ctx, c, "", args...)
		if err != nil || c.Rank() != 0 {
			return err
		}
		if r.stdout != "" || r.status != 101 {
			return fmt.Errorf("--results printed %q and exited %d; want nothing and 101 (667 failed)", r.stdout, r.status)
		}
		for _, seq := range []int{1, 999, 1000, 1001} {
			d := filepath.Join(res, fmt.Sprintf("%03d", seq/1000), strconv.Itoa(seq))
			v := strconv.Itoa((seq - 1) % 3)
			for file, want := range map[string]string{"stdout": "out " + v + "\n", "stderr": "err " + v + "\n", "exitval": v + "\n", "signal": "0\n"} {
				if got, _ := os.ReadFile(filepath.Join(d, file)); string(got) != want {
					return fmt.Errorf("%s/%s = %q, want %q", d, file, got, want)
				}
			}
		}
		entries, _ := os.ReadDir(res)
		if len(entries) != 2 {
			return fmt.Errorf("%s holds %d shards, want 2 (000 and 001)", res, len(entries))
		}
		return nil
	})
}

func TestTimeoutKillsTheGroup(t *testing.T) {
	inProcessOnly(t)
	t.Parallel()
	// The task's shell ignores SIGTERM; another process of its group says
	// when SIGTERM reaches it, into the task's output, which the farm reads
	// once the shell is gone (SIGKILL after the grace period).
	task := "(trap 'echo the group got SIGTERM; exit' TERM; sleep 10 & wait) & trap '' TERM; sleep {}; echo done {}"
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		start := time.Now()
		r, err := farmRun(ctx, c, "", "--timeout", "0.5", "--grace", "0.5", "-k", task, ":::", "0", "10")
		if err != nil || c.Rank() != 0 {
			return err
		}
		if r.stdout != "done 0\nthe group got SIGTERM\n" || r.status != 1 || !strings.Contains(r.stderr, "timed out") || time.Since(start) > 8*time.Second {
			return fmt.Errorf("stdout %q, exit %d after %v, stderr %q; want the second task's group to get SIGTERM, exit 1, within 8 s (not 10), a timeout warning",
				r.stdout, r.status, time.Since(start), r.stderr)
		}
		return nil
	})
}

func TestLeftoverProcessesEnd(t *testing.T) {
	inProcessOnly(t)
	t.Parallel()
	// Two tasks on two ranks of one slot each: one task on each rank.
	mpitest.Worlds(t, []int{2}, func(ctx context.Context, c mpi.Comm) error {
		dir, err := sharedDir(t, c)
		if err != nil {
			return err
		}
		start := time.Now()
		// Tasks that leave a process behind, holding their output open.
		r, err := farmRun(ctx, c, "", "-j1", "-k", "--grace", "1", "(sleep 8; touch "+dir+"/mark{}) & echo started {}", ":::", "a", "b")
		if err != nil || c.Rank() != 0 {
			return err
		}
		if r.stdout != "started a\nstarted b\n" || time.Since(start) > 6*time.Second {
			return fmt.Errorf("output %q after %v; want the tasks' output within 6 s, not held up by their leftovers (8 s)", r.stdout, time.Since(start))
		}
		time.Sleep(time.Until(start.Add(9 * time.Second)))
		if m, _ := filepath.Glob(dir + "/mark*"); len(m) > 0 {
			return fmt.Errorf("the tasks' leftover processes outlived the farm: %v", m)
		}
		return nil
	})
}

// inProcessOnly skips a test of how a rank handles its tasks' processes
// under a real launcher, where it would run at every size of
// scripts/test-mpi.sh: cmd/hpcmap's tests start real jobs for that.
func inProcessOnly(t *testing.T) {
	if mpitest.RealMPI() {
		t.Skip("a rank's own process handling: in process, and in cmd/hpcmap's launcher tests")
	}
}

// parallelInProcess lets a test that mostly waits run beside others, in
// process; the ranks of a real job must run the tests in step.
func parallelInProcess(t *testing.T) {
	if !mpitest.RealMPI() {
		t.Parallel()
	}
}

func TestGPUsPerSlot(t *testing.T) {
	t.Setenv("CUDA_VISIBLE_DEVICES", "3,5,7,9")
	inWorlds(t, "", []string{"-k", "--gpus-per-task", "2", "echo {%} $CUDA_VISIBLE_DEVICES", ":::", "a", "b", "c", "d", "e", "f"}, func(np int, r ran) error {
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			f := strings.Fields(line)
			slot, _ := strconv.Atoi(f[0])
			want := map[int]string{1: "3,5", 0: "7,9"}[slot%2] // two slots per rank
			if len(f) != 2 || f[1] != want {
				return fmt.Errorf("slot %d saw CUDA_VISIBLE_DEVICES=%v, want %s\n%s", slot, f[1:], want, r.stdout)
			}
		}
		return nil
	})
}

func TestDryRun(t *testing.T) {
	inWorlds(t, "", []string{"--dry-run", "-k", "touch", "{}", ":::", "a b", "c"}, func(np int, r ran) error {
		if r.stdout != "touch 'a b'\ntouch c\n" || r.status != 0 {
			return fmt.Errorf("%q, exit %d", r.stdout, r.status)
		}
		return nil
	})
}

func TestTaskEnvironmentDropsLaunchers(t *testing.T) {
	env := taskEnvironment([]string{
		"PATH=/bin", "OMPI_COMM_WORLD_RANK=1", "OMPI_MCA_orte_hnp_uri=x", "OMPI_ALLOW_RUN_AS_ROOT=1", "PMIX_RANK=1",
		"PMI_FD=5", "HYDI_CONTROL_FD=6", "MPI_LOCALRANKID=0", "SLURM_JOB_ID=7", "SLURM_STEP_ID=0", "SLURM_PROCID=1",
		"SLURM_STEP_NUM_TASKS=4", "PARALLEL_SEQ=9", "CUDA_VISIBLE_DEVICES=0,1", "HOME=/root",
	}, true)
	if got := strings.Join(env, " "); got != "PATH=/bin OMPI_ALLOW_RUN_AS_ROOT=1 SLURM_JOB_ID=7 HOME=/root" {
		t.Errorf("task environment %q", got)
	}
}
