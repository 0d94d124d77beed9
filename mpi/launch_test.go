package mpi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
)

// TestFailingRankEndsJob starts real jobs whose last rank fails while the
// others wait: the launcher must exit non-zero within 10 s, with the rank's
// message on stderr.
func TestFailingRankEndsJob(t *testing.T) {
	mpitest.ForEachLauncher(t, "./testdata/fault", func(launcher, bin string) {
		for _, mode := range []string{"panic", "error"} {
			t.Run(launcher+"/"+mode, func(t *testing.T) {
				job := mpitest.Launch(t, launcher, 3, 10*time.Second, bin, mode)
				if job.Hung || job.Exit == 0 {
					t.Fatalf("job hung (%v) or exited 0 (%d) after %v, want a non-zero exit within 10 s\n%s", job.Hung, job.Exit, job.Elapsed, job.Output)
				}
				if !strings.Contains(job.Output, "rank 2 on ") || !strings.Contains(job.Output, "injected") {
					t.Errorf("output does not name the failing rank and its error:\n%s", job.Output)
				}
			})
		}
	})
}

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
