//go:build mpich && !mpi

package mpi

// The MPICH build; see cgo_openmpi.go for why this is a file of its own.

// #cgo pkg-config: mpich
import "C"

const buildTag = "mpich"

const implementation = "MPICH"
