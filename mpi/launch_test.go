package mpi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
)

// TestFailingRankEndsJob starts real jobs whose last rank fails while the
// others wait: the launcher must exit non-zero within 10 s of the failure,
// with the rank's message on stderr. (The jobs' start is not counted: on a
// loaded machine it alone can take seconds.)
func TestFailingRankEndsJob(t *testing.T) {
	mpitest.ForEachLauncher(t, "./testdata/fault", func(launcher, bin string) {
		for _, mode := range []string{"panic", "error"} {
			t.Run(launcher+"/"+mode, func(t *testing.T) {
				start := time.Now()
				job := mpitest.Launch(t, launcher, 3, 60*time.Second, bin, mode)
				if job.Hung || job.Exit == 0 {
					t.Fatalf("job hung (%v) or exited 0 (%d) after %v, want a non-zero exit within 10 s of the failure\n%s", job.Hung, job.Exit, job.Elapsed, job.Output)
				}
				m := failingAt.FindStringSubmatch(job.Output)
				if m == nil {
					t.Fatalf("no \"failing at\" line from the failing rank\n%s", job.Output)
				}
				failedAt, _ := strconv.ParseInt(m[1], 10, 64)
				if took := start.Add(job.Elapsed).Sub(time.Unix(0, failedAt)); took > 10*time.Second {
					t.Errorf("the job ended %v after its rank failed, want 10 s at most\n%s", took, job.Output)
				}
				if !strings.Contains(job.Output, "rank 2 on ") || !strings.Contains(job.Output, "injected") {
					t.Errorf("output does not name the failing rank and its error:\n%s", job.Output)
				}
			})
		}
	})
}

// failingAt is the line of the fault program's failing rank: when it fails.
var failingAt = regexp.MustCompile(`failing at ([0-9]+)`)

// TestEveryRankFailing starts real jobs in which every rank returns an
// error: the job exits non-zero, with one line for an error that every rank
// shares and one per rank for errors of their own.
func TestEveryRankFailing(t *testing.T) {
	mpitest.ForEachLauncher(t, "./testdata/fault", func(launcher, bin string) {
		t.Run(launcher, func(t *testing.T) {
			job := mpitest.Launch(t, launcher, 3, 10*time.Second, bin, "all-error")
			if job.Hung || job.Exit == 0 || strings.Count(job.Output, "injected failure on every rank") != 1 ||
				!strings.Contains(job.Output, "ranks 0-2 on ") {
				t.Errorf("a failure of every rank: exit %d (hung %v) and output\n%s\nwant a non-zero exit, "+
					"one line \"ranks 0-2 on HOST: injected failure on every rank\"", job.Exit, job.Hung, job.Output)
			}
			job = mpitest.Launch(t, launcher, 3, 10*time.Second, bin, "each-error")
			for r := range 3 {
				if line := fmt.Sprintf("rank %d on ", r); job.Hung || job.Exit == 0 || strings.Count(job.Output, line) != 1 ||
					!strings.Contains(job.Output, fmt.Sprintf("injected failure %d", r)) {
					t.Errorf("each rank failing its own way: exit %d (hung %v) and output\n%s\nwant a non-zero exit and one line for rank %d",
						job.Exit, job.Hung, job.Output, r)
				}
			}
		})
	})
}

// TestWrongBuildRefused starts binaries built without MPI, and for MPICH,
// under OpenMPI's launcher: each rank would run alone and exit 0; instead
// they must fail and say how to rebuild.
func TestWrongBuildRefused(t *testing.T) {
	mpitest.StartsJobs(t)
	for _, tags := range []string{"", "mpich"} {
		bin := mpitest.Build(t, "./testdata/fault", tags)
		job := mpitest.Launch(t, "mpirun.openmpi", 2, 10*time.Second, bin, "error")
		if job.Hung || job.Exit == 0 || !strings.Contains(job.Output, "rebuild with -tags mpi") || !strings.Contains(job.Output, "OMPI_COMM_WORLD_SIZE=2") {
			t.Errorf("tags %q: exit %d (hung %v) and output\n%s\nwant a refusal that names the launcher's rank count and the fix", tags, job.Exit, job.Hung, job.Output)
		}
	}
}

// TestAgreedFailureEndsCleanly starts jobs in which every rank fails, alike
// or each in its own way, and returns: the ranks finalise and exit 1 rather
// than abort, so that neither MPI prints its abort banner (nor Open MPI's
// help system its errors about it) after the one line that says what
// failed. The same without a launcher.
func TestAgreedFailureEndsCleanly(t *testing.T) {
	abortText := []string{"MPI_ABORT", "Abort(", "ORTE_ERROR_LOG", "exiting improperly"}
	mpitest.ForEachLauncher(t, "./testdata/fault", func(launcher, bin string) {
		for _, mode := range []string{"all-error", "each-error"} {
			t.Run(launcher+"/"+mode, func(t *testing.T) {
				job := mpitest.Launch(t, launcher, 3, 20*time.Second, bin, mode)
				if job.Hung || job.Exit != 1 {
					t.Errorf("exit %d (hung %v), want 1\n%s", job.Exit, job.Hung, job.Output)
				}
				for _, s := range abortText {
					if strings.Contains(job.Output, s) {
						t.Errorf("output holds %q: the job aborted\n%s", s, job.Output)
					}
				}
				if lines := strings.Count(job.Output, "\n"); launcher == "mpirun.mpich" && lines != map[string]int{"all-error": 1, "each-error": 3}[mode] {
					t.Errorf("%d lines of output, want only the failures'\n%s", lines, job.Output)
				}
			})
		}
		t.Run(launcher+"/alone", func(t *testing.T) {
			cmd := exec.Command(bin, "all-error")
			out, err := cmd.CombinedOutput()
			want := "rank 0 on " + hostname(t) + ": injected failure on every rank\n"
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 || string(out) != want {
				t.Errorf("without a launcher: %v and output\n%s\nwant exit 1 and only %q", err, out, want)
			}
		})
	})
}

// TestSignalledFailureAborts sends SIGTERM to the launcher of a job whose
// ranks then fail alike: they abort the job rather than finalise, since
// MPICH's launcher, having forwarded the signal, may report a job whose ranks
// finalised and exited 1 as a success.
func TestSignalledFailureAborts(t *testing.T) {
	mpitest.ForEachLauncher(t, "./testdata/fault", func(launcher, bin string) {
		for i := range 3 {
			t.Run(fmt.Sprintf("%s/%d", launcher, i), func(t *testing.T) {
				exit, out := launchAndSignal(t, launcher, 2, bin, "signal")
				if exit == 0 {
					t.Errorf("exit 0 after SIGTERM to a job whose ranks failed\n%s", out)
				}
			})
		}
	})
}

// launchAndSignal starts launcher -np np bin args..., sends it SIGTERM once
// the program prints "ready", and returns the launcher's exit code and output.
func launchAndSignal(t *testing.T, launcher string, np int, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(launcher, append([]string{"-np", strconv.Itoa(np), bin}, args...)...)
	cmd.Env = append(os.Environ(), mpitest.LauncherEnv...)
	var out bytes.Buffer
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ready := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			fmt.Fprintln(&out, sc.Text())
			if sc.Text() == "ready" {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
		cmd.Process.Signal(syscall.SIGTERM)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Errorf("no \"ready\" within 20 s")
	}
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	cmd.Wait()
	<-copied
	return cmd.ProcessState.ExitCode(), out.String()
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestVanishedRankFailsJob starts jobs whose last rank calls os.Exit(0)
// while the others wait for it: it leaves without finalising MPI, and the job
// must fail. Open MPI's launcher sees to that itself; under MPICH's, whose
// job exited 0 in most such runs, the rank's supervisor does (supervisor.go).
func TestVanishedRankFailsJob(t *testing.T) {
	mpitest.ForEachLauncher(t, "./testdata/fault", func(launcher, bin string) {
		for i := range 5 {
			t.Run(fmt.Sprintf("%s/%d", launcher, i), func(t *testing.T) {
				job := mpitest.Launch(t, launcher, 2, 20*time.Second, bin, "exit0")
				if job.Hung || job.Exit == 0 {
					t.Fatalf("exit %d (hung %v) after %v, want a non-zero exit\n%s", job.Exit, job.Hung, job.Elapsed, job.Output)
				}
				if launcher == "mpirun.mpich" && !strings.Contains(job.Output, "rank 1: the process exited with code 0 without finalising MPI") {
					t.Errorf("output does not say which rank left without finalising:\n%s", job.Output)
				}
			})
		}
	})
}
