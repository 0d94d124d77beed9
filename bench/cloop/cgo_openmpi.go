//go:build hpcmapbench && mpi && !mpich && !mpicc

package cloop

// Each MPI's cgo flags sit in a file of their own, as in package mpi, so that
// Go's build cache cannot link one MPI's objects with the other's.

// #cgo pkg-config: ompi
import "C"
