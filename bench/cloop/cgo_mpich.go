//go:build hpcmapbench && mpich && !mpi && !mpicc

package cloop

// #cgo pkg-config: mpich
import "C"
