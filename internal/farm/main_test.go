package farm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

func TestMain(m *testing.M) { mpitest.Main(m) }

// sizes are the worlds the farm's tests run on, in process.
var sizes = []int{1, 2, 3}

// ran is what a farm or GNU Parallel printed and how it exited.
type ran struct {
	stdout, stderr string
	status         int
}

// farmRun runs the farm on c with args and stdin; rank 0's output counts.
func farmRun(ctx context.Context, c mpi.Comm, stdin string, args ...string) (ran, error) {
	var out, errw bytes.Buffer
	status, err := Run(ctx, c, args, Stdio{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errw})
	return ran{out.String(), errw.String(), status}, err
}

// gnuParallel runs Debian's GNU Parallel with args and stdin, with /bin/sh
// as its shell (as the farm's), in dir.
func gnuParallel(dir, stdin string, args ...string) (ran, error) {
	if _, err := exec.LookPath("parallel"); err != nil {
		return ran{}, errors.New("GNU Parallel not found: install it (scripts/deps.sh parallel, or make deps)")
	}
	cmd := exec.Command("parallel", append([]string{"--will-cite"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PARALLEL_SHELL=/bin/sh")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return ran{}, fmt.Errorf("running GNU Parallel: %w", err)
	}
	return ran{out.String(), errw.String(), cmd.ProcessState.ExitCode()}, nil
}

// writeFiles writes files (name to content) into dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

// sharedDir is a temporary directory that every rank names alike: rank 0
// makes it and tells the others, and it is removed when the test ends. (Each
// rank of a real job has a t.TempDir of its own.)
func sharedDir(t testing.TB, c mpi.Comm) (string, error) {
	var name []byte
	if c.Rank() == 0 {
		dir, err := os.MkdirTemp("", "hpcmap-farm-test-")
		if err != nil {
			return "", err
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		name = []byte(dir)
	}
	name, err := c.Bcast(0, name)
	return string(name), err
}
