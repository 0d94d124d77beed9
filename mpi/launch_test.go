package mpi_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
)

// launchers are the real MPI launchers, with the build tag for each.
var launchers = []struct{ tag, launcher string }{
	{"mpi", "mpirun.openmpi"},
	{"mpich", "mpirun.mpich"},
}

// TestFailingRankEndsJob starts real jobs whose last rank fails while the
// others wait: the launcher must exit non-zero within 10 s, with the rank's
// message on stderr.
func TestFailingRankEndsJob(t *testing.T) {
	if mpitest.RealMPI() {
		t.Skip("starts its own jobs; run without MPI tags")
	}
	for _, l := range launchers {
		if _, err := exec.LookPath(l.launcher); err != nil {
			t.Errorf("%s not found: install OpenMPI and MPICH (see README)", l.launcher)
			continue
		}
		bin := filepath.Join(t.TempDir(), "fault")
		if out, err := exec.Command("go", "build", "-tags", l.tag, "-o", bin, "./testdata/fault").CombinedOutput(); err != nil {
			t.Fatalf("building with -tags %s: %v\n%s", l.tag, err, out)
		}
		for _, mode := range []string{"panic", "error"} {
			t.Run(l.launcher+"/"+mode, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, l.launcher, "-np", "3", bin, mode)
				cmd.Env = append(os.Environ(), mpitest.LauncherEnv...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				if ctx.Err() != nil {
					t.Fatalf("the job hung: still running after 10 s\n%s", stderr.String())
				}
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() == 0 {
					t.Fatalf("job ended with %v, want a non-zero exit", err)
				}
				want := "rank 2 on "
				if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "injected") {
					t.Errorf("stderr does not name the failing rank and its error:\n%s", stderr.String())
				}
			})
		}
	}
}

// TestWrongBuildRefused starts binaries built without MPI, and for MPICH,
// under OpenMPI's launcher: each rank would run alone and exit 0; instead
// they must fail and say how to rebuild.
func TestWrongBuildRefused(t *testing.T) {
	if mpitest.RealMPI() {
		t.Skip("starts its own jobs; run without MPI tags")
	}
	if _, err := exec.LookPath("mpirun.openmpi"); err != nil {
		t.Fatal("mpirun.openmpi not found: install OpenMPI (see README)")
	}
	for _, tags := range []string{"", "mpich"} {
		bin := filepath.Join(t.TempDir(), "fault")
		if out, err := exec.Command("go", "build", "-tags="+tags, "-o", bin, "./testdata/fault").CombinedOutput(); err != nil {
			t.Fatalf("building with -tags=%s: %v\n%s", tags, err, out)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "mpirun.openmpi", "-np", "2", bin, "error")
		cmd.Env = append(os.Environ(), mpitest.LauncherEnv...)
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("tags %q: the job hung", tags)
		}
		if err == nil || !strings.Contains(string(out), "rebuild with -tags mpi") || !strings.Contains(string(out), "OMPI_COMM_WORLD_SIZE=2") {
			t.Errorf("tags %q: got %v and output\n%s\nwant a refusal that names the launcher's rank count and the fix", tags, err, out)
		}
	}
}
