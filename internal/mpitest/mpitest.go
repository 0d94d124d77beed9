// Package mpitest runs the same test on in-process ranks and on the system MPI.
//
// Built without MPI tags, Worlds runs a test body on mpi.Local worlds of several
// sizes. Built with -tags mpi or -tags mpich and started by a launcher
// (mpirun -np 4 ./pkg.test), Main runs the tests under mpi.Run on every rank,
// and Worlds runs the body once on the real world of the launcher's size.
package mpitest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

// world is the system MPI's world while Main runs the tests under a launcher.
var world mpi.Comm

// Main runs the package's tests; call it from TestMain. Under MPI every rank
// runs every test in the same order, and a failure on any rank ends the job
// with a non-zero exit code.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with work of its own after the tests: it
// returns the exit code instead of exiting.
func Run(m *testing.M) int {
	if mpi.Implementation() == "" {
		return m.Run()
	}
	return mpi.Run(func(ctx context.Context, c mpi.Comm) error {
		world = c
		if code := m.Run(); code != 0 {
			return fmt.Errorf("tests failed on this rank")
		}
		return nil
	})
}

// RealMPI reports whether the tests run on the system MPI.
func RealMPI() bool { return world != nil }

// Worlds runs body on every rank of a world, as a subtest named after the
// world's size: on mpi.Local worlds of each size in sizes, or once on the
// system MPI's world. body must make the same collective calls on every rank
// and report what it finds wrong by returning an error (check results on rank
// 0); it must not call t.FailNow.
func Worlds(t *testing.T, sizes []int, body func(ctx context.Context, c mpi.Comm) error) {
	t.Helper()
	if world != nil {
		t.Run(fmt.Sprintf("np=%d", world.Size()), func(t *testing.T) {
			if err := body(t.Context(), world); err != nil {
				t.Errorf("rank %d on %s: %v", world.Rank(), world.Host(), err)
			}
		})
		return
	}
	for _, np := range sizes {
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) {
			if err := mpi.Local(np, body); err != nil {
				t.Error(err)
			}
		})
	}
}

// LauncherEnv is the environment tests give mpirun on a small shared machine:
// run as root, more ranks than cores, ranks that yield when idle instead of
// spinning, and no binding, so a rank sees every core.
var LauncherEnv = []string{
	"OMPI_ALLOW_RUN_AS_ROOT=1",
	"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
	"OMPI_MCA_rmaps_base_oversubscribe=1",
	"OMPI_MCA_mpi_yield_when_idle=1",
	"OMPI_MCA_hwloc_base_binding_policy=none",
	"OMPI_MCA_btl_vader_single_copy_mechanism=none",
}

// Launchers are the real MPI launchers, each with the build tag of its MPI.
var Launchers = []struct{ Tag, Command string }{
	{"mpi", "mpirun.openmpi"},
	{"mpich", "mpirun.mpich"},
}

// StartsJobs marks a test that launches jobs of its own: it is skipped in a
// build with MPI tags, whose tests already run as ranks of a job.
func StartsJobs(t *testing.T) {
	t.Helper()
	if RealMPI() {
		t.Skip("starts its own jobs; run without MPI tags")
	}
}

// ForEachLauncher is StartsJobs, then each called for every launcher with
// its command and the main package in dir built for its MPI.
func ForEachLauncher(t *testing.T, dir string, each func(launcher, bin string)) {
	t.Helper()
	StartsJobs(t)
	for _, l := range Launchers {
		each(l.Command, Build(t, dir, l.Tag))
	}
}

// Build builds the main package in dir with the given build tags (space
// separated, "" for none) into a temporary directory, and returns the binary.
func Build(t *testing.T, dir, tags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(dir))
	if out, err := exec.Command("go", "build", "-tags="+tags, "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("building %s with tags %q: %v\n%s", dir, tags, err, out)
	}
	return bin
}

// Job is how a launched job ended.
type Job struct {
	Exit    int // the launcher's exit code; -1 if it did not exit by itself
	Output  string
	Elapsed time.Duration
	Hung    bool // still running at the deadline, and killed
}

// Launch runs launcher -np np bin args... with LauncherEnv, and kills it if
// it runs longer than limit.
func Launch(t *testing.T, launcher string, np int, limit time.Duration, bin string, args ...string) Job {
	t.Helper()
	if _, err := exec.LookPath(launcher); err != nil {
		t.Fatalf("%s not found: install OpenMPI and MPICH (make deps)", launcher)
	}
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, launcher, append([]string{"-np", strconv.Itoa(np), bin}, args...)...)
	cmd.Env = append(os.Environ(), LauncherEnv...)
	cmd.WaitDelay = time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	job := Job{Exit: cmd.ProcessState.ExitCode(), Output: string(out), Elapsed: time.Since(start), Hung: ctx.Err() != nil}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) && !job.Hung {
		t.Fatalf("running %s: %v", launcher, err)
	}
	return job
}
