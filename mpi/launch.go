package mpi

import (
	"fmt"
	"strconv"
	"strings"
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
		"rebuild with -tags mpi for OpenMPI or -tags mpich for MPICH, matching the launcher (mpirun.openmpi, mpirun.mpich, or srun --mpi=pmix for OpenMPI, --mpi=pmi2 for MPICH), "+
		"or with -tags mpicc and the flags of the launcher's own mpicc (make build MPI=mpicc)",
		n, v, n, size, build)
}

// Implementation names the MPI this binary runs on: "OpenMPI" (build tag mpi),
// "MPICH" (build tag mpich), or "" in a build without MPI. A build with tag
// mpicc asks the library (MPI_Get_library_version), and names it as
// implementationOf does.
func Implementation() string { return implementation() }

// implementationOf names the MPI implementation that wrote version, the text
// of MPI_Get_library_version: "OpenMPI", "MPICH", "Intel MPI", "MVAPICH",
// "Cray MPICH", "HPE MPT", "Spectrum MPI", or else its first line.
func implementationOf(version string) string {
	// Derived implementations name their base too: look for them first.
	for _, impl := range []struct{ mark, name string }{
		{"CRAY MPICH", "Cray MPICH"},
		{"Intel(R) MPI", "Intel MPI"},
		{"MVAPICH", "MVAPICH"},
		{"Spectrum MPI", "Spectrum MPI"},
		{"HPE MPT", "HPE MPT"},
		{"Open MPI", "OpenMPI"},
		{"MPICH", "MPICH"},
	} {
		if strings.Contains(strings.ToUpper(version), strings.ToUpper(impl.mark)) {
			return impl.name
		}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(version), "\n")
	return strings.TrimSpace(first)
}
