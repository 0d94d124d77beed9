package mpi

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// Run initialises MPI (or, in a build without MPI, the single-process world),
// calls main on every rank, finalises, and returns the process exit code:
//
//	func main() { os.Exit(mpi.Run(run)) }
//
// If main returns an error or panics on any rank, that rank prints
// "rank R on HOST: <error>" to stderr and aborts the whole job with a non-zero
// code (1 for an error, 2 for a panic): never a hang, never exit 0.
//
// The context is cancelled on SIGTERM or SIGINT (a Slurm time limit, scancel,
// Ctrl-C, or mpirun forwarding them), so that main can drain and return; a
// second signal has its default effect.
//
// A binary built without MPI, or for the other MPI implementation, that is
// started by a launcher as several ranks fails at once with a message saying
// how to rebuild, instead of running as independent copies.
func Run(main func(ctx context.Context, world Comm) error) int {
	if main == nil {
		fmt.Fprintln(os.Stderr, "mpi: Run called with a nil main")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default action for a second signal
	}()
	return run(ctx, main)
}

// exitCode is the code a failed rank exits or aborts with.
func exitCode(err error) int {
	if re, ok := err.(*RankError); ok && re.Panic {
		return 2
	}
	return 1
}

// launchSize is the number of ranks the launcher's environment announces, and
// the variable that says so; 0 when there is none. It reads the variables of
// OpenMPI's mpirun, of PMI launchers (MPICH's hydra, srun --mpi=pmi2), and of a
// Slurm job step (srun with any plugin).
func launchSize(getenv func(string) string) (int, string) {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_STEP_NUM_TASKS"} {
		if n, err := strconv.Atoi(getenv(v)); err == nil && n > 0 {
			return n, v
		}
	}
	return 0, ""
}

// launchMismatch explains a process that the launcher started as one of n
// ranks but that sees a world of size ranks; nil when they agree.
func launchMismatch(getenv func(string) string, size int, build string) error {
	n, v := launchSize(getenv)
	if n <= 1 || n == size {
		return nil
	}
	return fmt.Errorf("mpi: the launcher started %d ranks (%s=%d) but this process sees %d: %s; "+
		"rebuild with -tags mpi for OpenMPI or -tags mpich for MPICH, matching the launcher (mpirun.openmpi, mpirun.mpich, or srun --mpi=pmix for OpenMPI, --mpi=pmi2 for MPICH)",
		n, v, n, size, build)
}

// Implementation names the MPI this binary was built for: "OpenMPI" (build tag
// mpi), "MPICH" (build tag mpich), or "" in a build without MPI.
func Implementation() string { return implementation }
