//go:build mpich && !mpi && !mpicc

package mpi

// The MPICH build; see cgo_openmpi.go for why this is a file of its own.

// #cgo pkg-config: mpich
import "C"

const buildTag = "mpich"

func implementation() string { return "MPICH" }
