package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
)

// binaries are this command built for each MPI, once per test run.
var binaries sync.Map // tag -> string

func binary(t *testing.T, tag string) string {
	t.Helper()
	if b, ok := binaries.Load(tag); ok {
		return b.(string)
	}
	dir, err := os.MkdirTemp("", "hpcmap-farm-test-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hpcmap")
	if out, err := exec.Command("go", "build", "-tags="+tag, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building with tags %q: %v\n%s", tag, err, out)
	}
	binaries.Store(tag, bin)
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	binaries.Range(func(_, b any) bool { os.RemoveAll(filepath.Dir(b.(string))); return true })
	os.Exit(code)
}

// job is a launched farm.
type job struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	token          string // in the environment of the launcher, the ranks and the tasks
}

// startFarm starts launcher -np np BIN farm args... with the launcher
// settings of the tests and a token in the environment that finds every
// process of the job later.
func startFarm(t *testing.T, launcher string, np int, stdin string, args ...string) *job {
	t.Helper()
	if _, err := exec.LookPath(launcher); err != nil {
		t.Fatalf("%s not found: install OpenMPI and MPICH (make deps)", launcher)
	}
	tag := "mpi"
	pre := []string{"-q"} // OpenMPI's notice of a non-zero exit status goes
	if launcher == "mpirun.mpich" {
		tag, pre = "mpich", nil
	}
	j := &job{token: fmt.Sprintf("HPCMAP_FARM_TEST=%d-%d", os.Getpid(), time.Now().UnixNano())}
	cmdArgs := append(append(pre, "-np", strconv.Itoa(np), binary(t, tag), "farm"), args...)
	j.cmd = exec.Command(launcher, cmdArgs...)
	j.cmd.Env = append(append(os.Environ(), mpitest.LauncherEnv...), j.token)
	j.cmd.Stdin = strings.NewReader(stdin)
	j.cmd.Stdout, j.cmd.Stderr = &j.stdout, &j.stderr
	if err := j.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if j.cmd.ProcessState == nil {
			j.cmd.Process.Kill()
			j.cmd.Wait()
		}
		for _, pid := range j.processes() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return j
}

// wait waits for the job at most limit, and returns its exit status (-1
// if it had to be killed).
func (j *job) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- j.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return j.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		j.cmd.Process.Kill()
		<-done
		t.Errorf("the job still ran after %v: killed\nstdout %s\nstderr %s", limit, j.stdout.String(), j.stderr.String())
		return -1
	}
}

// processes lists the live processes (not zombies) whose environment holds
// the job's token: the launcher, its helpers, the ranks, the guardians, the
// tasks.
func (j *job) processes(extra ...string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		stat, err2 := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil || err2 != nil || !bytes.Contains(env, []byte(j.token+"\x00")) {
			continue
		}
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			continue
		}
		all := true
		for _, x := range extra {
			all = all && bytes.Contains(env, []byte(x+"\x00"))
		}
		if all {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitFor polls cond every 50 ms for at most limit.
func waitFor(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func gnuParallel(t *testing.T, stdin string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	if _, err := exec.LookPath("parallel"); err != nil {
		t.Fatal("GNU Parallel not found: install it (scripts/deps.sh parallel, or make deps)")
	}
	cmd := exec.Command("parallel", append([]string{"--will-cite"}, args...)...)
	cmd.Env = append(os.Environ(), "PARALLEL_SHELL=/bin/sh")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errw.String(), cmd.ProcessState.ExitCode()
}

// TestFarmUnderLaunchers runs command lines under both launchers: output
// and exit status must be GNU Parallel's. Each case runs under each
// launcher once, the number of ranks turning from 1 to 3 so that each
// launcher runs each size; the whole table of internal/farm runs under the
// launchers at every size in scripts/test-mpi.sh, and in process at 1, 2
// and 3 ranks.
func TestFarmUnderLaunchers(t *testing.T) {
	mpitest.StartsJobs(t)
	cases := []struct {
		name, stdin string
		args        []string
	}{
		{"hostile arguments", "", []string{"-k", "printf", "[%s]\\n", ":::", "b c", "d'e", "$(touch PWNED)", "; touch PWNED", `x\y`, "", "'", "*", "n\nl"}},
		{"standard input reaches rank 0", "l1\nl 2\n\n", []string{"-k", "echo", "{#}", "[{}]"}},
		{"two sources, --tag", "", []string{"-k", "--tag", "echo", "{2}{1}", ":::", "a", "b c", ":::", "1", "2", "3"}},
		{"failures count", "", []string{"-k", "echo {}; exit {}", ":::", "0", "1", "2", "0", "3"}},
	}
	for k, tc := range cases {
		wantOut, wantErr, wantStatus := gnuParallel(t, tc.stdin, tc.args...)
		for li, l := range mpitest.Launchers {
			np := 1 + (k+li)%3
			t.Run(fmt.Sprintf("%s/np=%d/%s", l.Command, np, tc.name), func(t *testing.T) {
				j := startFarm(t, l.Command, np, tc.stdin, tc.args...)
				status := j.wait(t, 60*time.Second)
				if j.stdout.String() != wantOut || j.stderr.String() != wantErr || status != wantStatus {
					t.Errorf("farm differs from GNU Parallel:\nstdout %q\n  want %q\nstderr %q\n  want %q\nstatus %d, want %d",
						j.stdout.String(), wantOut, j.stderr.String(), wantErr, status, wantStatus)
				}
			})
		}
	}
	if _, err := os.Stat("PWNED"); err == nil {
		os.Remove("PWNED")
		t.Error("an argument ran as code: PWNED exists")
	}
}
