package mpimap_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
)

// TestFaultsEndTheJob injects failures into jobs of three ranks inside a Map,
// on both MPIs: each must end the launcher non-zero within 10 s, never hang
// and never exit 0. A task that panics is a TaskError, and the job goes on.
func TestFaultsEndTheJob(t *testing.T) {
	mpitest.ForEachLauncher(t, "./testdata/fault", func(launcher, bin string) {
		for _, mode := range []string{"panic-outside", "error-outside", "exit-in-task", "kill-rank", "kill-root", "kill-leader", "task-panic"} {
			t.Run(launcher+"/"+mode, func(t *testing.T) {
				t.Parallel()
				np := 3
				if mode == "kill-leader" {
					np = 4 // two nodes of two ranks: rank 2 leads the second
				}
				job := mpitest.Launch(t, launcher, np, 10*time.Second, bin, mode)
				t.Logf("exit %d after %v", job.Exit, job.Elapsed.Round(time.Millisecond))
				if job.Hung {
					t.Fatalf("the job hung: still running after 10 s\n%s", job.Output)
				}
				if mode == "task-panic" {
					if job.Exit != 0 || !strings.Contains(job.Output, "task 20 panicked on rank") {
						t.Fatalf("exit %d, want 0 with the panic reported as a TaskError\n%s", job.Exit, job.Output)
					}
					return
				}
				if job.Exit == 0 {
					t.Fatalf("the job exited 0 after a %s\n%s", mode, job.Output)
				}
			})
		}
	})
}
