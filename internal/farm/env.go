package farm

import "strings"

// launcherPrefixes start the names of variables that MPI launchers and
// Slurm's job steps set for a rank: a task that is an MPI program itself
// would read them and try to join the farm's own job (or refuse to start).
// OpenMPI (mpirun, PMIx), MPICH's Hydra, PMI-1/2 launchers (srun
// --mpi=pmi2, Intel MPI), Cray PALS, MVAPICH's mpirun_rsh, OpenMPI 5's PRRTE.
var launcherPrefixes = []string{
	"OMPI_", "PMIX_", "PMI_", "PMI2_", "HYDRA_", "HYDI_", "PRTE_", "ORTE_", "PALS_", "MPIRUN_", "MV2_COMM_WORLD_",
	// A Slurm job step's own identity; the job's (SLURM_JOB_ID, ...) stays,
	// so that a task may still call srun or scontrol.
	"SLURM_STEP_", "SLURM_PMIX_", "SLURM_PMI2_", "SLURM_SRUN_COMM_",
}

// launcherNames are whole names of such variables.
var launcherNames = map[string]bool{
	"MPI_LOCALRANKID": true, "MPI_LOCALNRANKS": true, "MPIR_CVAR_CH3_INTERFACE_HOSTNAME": true,
	"SLURM_STEPID": true, "SLURM_PROCID": true, "SLURM_LOCALID": true, "SLURM_TASK_PID": true,
	"SLURM_GTIDS": true, "SLURM_LAUNCH_NODE_IPADDR": true, "SLURM_MPI_TYPE": true,
	// What hpcmap farm sets for each task, so that a farm started by a
	// task does not inherit its own.
	"PARALLEL_SEQ": true, "PARALLEL_JOBSLOT": true, "HPCMAP_RANK": true,
}

// keptNames are kept although their prefix is a launcher's: settings a user
// makes, which no launcher sets and which let a task run MPI as root.
var keptNames = map[string]bool{
	"OMPI_ALLOW_RUN_AS_ROOT": true, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": true,
}

// launcherVariable reports whether the environment entry kv (NAME=value)
// belongs to the launcher.
func launcherVariable(kv string) bool {
	name, _, _ := strings.Cut(kv, "=")
	if keptNames[name] {
		return false
	}
	if launcherNames[name] {
		return true
	}
	for _, p := range launcherPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// taskEnvironment is the environment that every task starts from: the
// rank's, without the launcher's variables, and without
// CUDA_VISIBLE_DEVICES when slots get devices of their own.
func taskEnvironment(environ []string, ownGPUs bool) []string {
	var env []string
	for _, kv := range environ {
		if launcherVariable(kv) || ownGPUs && strings.HasPrefix(kv, "CUDA_VISIBLE_DEVICES=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
