//go:build mpi && mpich

package mpi

// Build tags mpi (OpenMPI) and mpich (MPICH) exclude each other: this
// undefined name stops the build with a message that says so.
var _ = build_tags_mpi_and_mpich_exclude_each_other
