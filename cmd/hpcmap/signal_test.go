package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
)

// slowTask is a task that marks its start, answers SIGTERM by marking it,
// and runs long unless the directory holds the file "quick": a farm of them
// is interrupted once and resumed once.
const slowTask = `echo start > %[1]s/start.{#}; trap 'echo term > %[1]s/term.{#}; exit 1' TERM; ` +
	`if [ -e %[1]s/quick ]; then echo done {#}; else sleep 60 & wait; fi`

// TestSIGTERMThenResume stops a farm mid-run with SIGTERM, sent to the
// launcher (as a user's kill or Ctrl-C does) or to every process of the job
// at once, tasks included (as Slurm's scancel --signal does): the running
// tasks get SIGTERM, the farm exits non-zero with them reported as
// interrupted and left out of the joblog, no process of the job survives,
// and a --resume runs exactly the tasks that did not finish.
func TestSIGTERMThenResume(t *testing.T) {
	mpitest.StartsJobs(t)
	for _, l := range mpitest.Launchers {
		for _, every := range []bool{false, true} {
			name := l.Command + "/to the launcher"
			if every {
				name = l.Command + "/to every process"
			}
			t.Run(name, func(t *testing.T) { stopAndResume(t, l.Command, every) })
		}
	}
}

func stopAndResume(t *testing.T, launcher string, every bool) {
	dir := t.TempDir()
	log := filepath.Join(dir, "joblog")
	args := []string{"-j1", "--grace", "3", "--joblog", log, fmt.Sprintf(slowTask, dir), ":::", "a", "b", "c", "d", "e", "f"}
	j := startFarm(t, launcher, 2, "", args...)
	started := func() []string { m, _ := filepath.Glob(filepath.Join(dir, "start.*")); return m }
	if !waitFor(30*time.Second, func() bool { return len(started()) == 2 }) {
		t.Fatalf("want 2 tasks started (2 ranks, -j1), have %q\n%s", started(), j.stderr.String())
	}
	time.Sleep(200 * time.Millisecond)
	if every {
		for _, pid := range j.processes() {
			if pid != j.cmd.Process.Pid {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	} else {
		j.cmd.Process.Signal(syscall.SIGTERM)
	}
	status := j.wait(t, 20*time.Second)
	terms, _ := filepath.Glob(filepath.Join(dir, "term.*"))
	// MPICH's mpirun, when it was signalled itself, now and then exits 0
	// whatever its ranks' status (143 here): its status says nothing then.
	if launcher == "mpirun.mpich" && !every && status == 0 {
		status = -1
	}
	if status == 0 || len(terms) != 2 {
		t.Errorf("after SIGTERM: exit %d, tasks that got SIGTERM %q; want non-zero, 2\n%s", status, terms, j.stderr.String())
	}
	if !strings.Contains(j.stderr.String(), "2 were interrupted") || !strings.Contains(j.stderr.String(), "4 never started") {
		t.Errorf("the farm does not report 2 tasks interrupted and 4 not started:\n%s", j.stderr.String())
	}
	// A guardian may take a moment to end after its rank.
	if !waitFor(2*time.Second, func() bool { return len(j.processes()) == 0 }) {
		t.Errorf("processes of the job survive it: %v", j.processes())
	}
	if seqs := loggedSeqs(t, log); len(seqs) != 0 {
		t.Errorf("the joblog lists %v; interrupted tasks must not be logged", seqs)
	}

	// The same command again, with --resume: every task runs, once.
	for _, m := range started() {
		os.Remove(m)
	}
	os.WriteFile(filepath.Join(dir, "quick"), nil, 0o666)
	j = startFarm(t, launcher, 2, "", append([]string{"--resume"}, args...)...)
	if status := j.wait(t, 30*time.Second); status != 0 {
		t.Errorf("--resume: exit %d\n%s", status, j.stderr.String())
	}
	if seqs := loggedSeqs(t, log); !slices.Equal(seqs, []int{1, 2, 3, 4, 5, 6}) {
		t.Errorf("after --resume the joblog lists tasks %v, want 1 to 6 once each", seqs)
	}
}

// loggedSeqs lists, sorted, the sequence numbers of a joblog's lines.
func loggedSeqs(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand" {
		t.Fatalf("joblog header %q", lines[0])
	}
	var seqs []int
	for _, l := range lines[1:] {
		n, err := strconv.Atoi(strings.SplitN(l, "\t", 2)[0])
		if err != nil {
			t.Fatalf("joblog line %q", l)
		}
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	return seqs
}

// TestRankKilled kills a rank with SIGKILL while its tasks run: the job
// ends, non-zero, and the guardians leave no task of any rank behind.
func TestRankKilled(t *testing.T) {
	mpitest.StartsJobs(t)
	for _, l := range mpitest.Launchers {
		t.Run(l.Command, func(t *testing.T) {
			dir := t.TempDir()
			j := startFarm(t, l.Command, 2, "", "-j2", fmt.Sprintf("echo > %s/start.{#}; sleep 60", dir), ":::", "1", "2", "3", "4", "5", "6")
			started := func() bool { m, _ := filepath.Glob(filepath.Join(dir, "start.*")); return len(m) == 4 }
			if !waitFor(30*time.Second, started) {
				t.Fatalf("4 tasks did not start\n%s", j.stderr.String())
			}
			// Tasks and the guardian do not have the launcher's variables.
			// Under MPICH's launcher a supervisor holds the rank as its
			// child: the rank is the one that was told of the supervisor.
			rankVar := map[string]string{"mpirun.openmpi": "OMPI_COMM_WORLD_RANK=1", "mpirun.mpich": "PMI_RANK=1"}[l.Command]
			ranks := j.processes(rankVar)
			if l.Command == "mpirun.mpich" {
				ranks = slices.DeleteFunc(ranks, func(pid int) bool {
					env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
					return !strings.Contains("\x00"+string(env), "\x00HPCMAP_SUPERVISOR_FD=")
				})
			}
			if len(ranks) != 1 {
				t.Fatalf("want the one process of rank 1, found %v", ranks)
			}
			syscall.Kill(ranks[0], syscall.SIGKILL)
			if status := j.wait(t, 30*time.Second); status == 0 {
				t.Errorf("the job exited 0 after a rank was killed")
			}
			if !waitFor(15*time.Second, func() bool { return len(j.processes()) == 0 }) {
				t.Errorf("processes of the job survive it: %v", j.processes())
			}
		})
	}
}
