//go:build (mpi || mpich || mpicc) && !(mpi && mpich) && !(mpi && mpicc) && !(mpich && mpicc)

package mpi

// SetMessageBlock lets tests send small messages the way messages over 2 GiB go.
var SetMessageBlock = setMessageBlock
