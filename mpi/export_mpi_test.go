//go:build (mpi || mpich) && !(mpi && mpich)

package mpi

// SetMessageBlock lets tests send small messages the way messages over 2 GiB go.
var SetMessageBlock = setMessageBlock
