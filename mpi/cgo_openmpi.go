//go:build mpi && !mpich && !mpicc

package mpi

// The OpenMPI build. Each implementation's cgo flags live in a file of their
// own so that Go's build cache can never link one with the other's objects.

// #cgo pkg-config: ompi
import "C"

const buildTag = "mpi"

func implementation() string { return "OpenMPI" }
