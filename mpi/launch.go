package mpi

import (
	"fmt"
	"strconv"
)

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
