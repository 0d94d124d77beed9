package mpimap_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpimap"
)

// TestSignalDrainAndResume sends SIGTERM to the launcher in the middle of a
// journaled map, as Slurm does at the time limit: the job must end non-zero,
// with the finished results journaled. Run again with the journal, it must
// finish with every result right, without running any journaled task again.
func TestSignalDrainAndResume(t *testing.T) {
	mpitest.ForEachLauncher(t, "./testdata/drain", func(launcher, bin string) {
		for _, mode := range []string{"map", "mapn", "each", "eachn", "eachn-tree"} {
			t.Run(launcher+"/"+mode, func(t *testing.T) { drainAndResume(t, launcher, bin, mode) })
		}
	})
}

// drainAndResume signals a job of the drain program in mode, and resumes it.
func drainAndResume(t *testing.T, launcher, bin, mode string) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal")
	logs1, logs2 := filepath.Join(dir, "run1"), filepath.Join(dir, "run2")
	os.Mkdir(logs1, 0o755)
	os.Mkdir(logs2, 0o755)

	np := 3
	if mode == "eachn-tree" {
		np = 5 // nodes {0, 1}, {2, 3}, {4}: rank 2 leads
	}
	cmd := exec.Command(launcher, "-np", strconv.Itoa(np), bin, journal, logs1, mode)
	cmd.Env = append(os.Environ(), mpitest.LauncherEnv...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Signal once some results are journaled.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if tasks, _ := mpimap.JournaledTasks(journal); len(tasks) >= 30 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the job did not end within 15 s of SIGTERM\n%s", out)
	}
	if cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("the interrupted job exited 0\n%s", out)
	}
	journaled, err := mpimap.JournaledTasks(journal)
	if err != nil || len(journaled) == 0 || len(journaled) == 400 {
		t.Fatalf("%d tasks journaled by the interrupted run (%v)\n%s", len(journaled), err, out)
	}

	job := mpitest.Launch(t, launcher, np, 60*time.Second, bin, journal, logs2, mode)
	if job.Exit != 0 || !strings.Contains(job.Output, "complete 400") {
		t.Fatalf("the resumed job: exit %d\n%s", job.Exit, job.Output)
	}
	ran := completed(t, logs2)
	for _, i := range journaled {
		if ran[i] > 0 {
			t.Errorf("journaled task %d ran again on resume", i)
		}
		ran[i]++
	}
	for i := range 400 {
		if ran[i] != 1 {
			t.Errorf("task %d: journaled or run %d times in all, want once", i, ran[i])
		}
	}
	t.Logf("%d tasks journaled before SIGTERM; %d run on resume", len(journaled), 400-len(journaled))
}

// completed counts the tasks the ranks logged as completed in dir.
func completed(t *testing.T, dir string) map[int]int {
	counts := map[int]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "rank-*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(fh)
		for s.Scan() {
			i, err := strconv.Atoi(s.Text())
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			counts[i]++
		}
		fh.Close()
	}
	return counts
}
