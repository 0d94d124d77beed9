//go:build (mpi && mpich) || (mpi && mpicc) || (mpich && mpicc)

package mpi

// The build tags mpi (OpenMPI), mpich (MPICH) and mpicc (any MPI, through
// its compiler wrapper's flags) exclude each other: this undefined name stops
// the build with a message that says so.
var _ = build_tags_mpi_mpich_and_mpicc_exclude_each_other
