//go:build mpicc && !mpi && !mpich

package mpi

// The build for any MPI with a C compiler wrapper: no #cgo flags here, they
// come from CGO_CFLAGS and CGO_LDFLAGS, filled from the wrapper's own
// (scripts/mpicc-flags.sh). Which implementation that is, the library says at
// run time.

// #include "binding.h"
import "C"

import "sync"

const buildTag = "mpicc"

var implementation = sync.OnceValue(func() string {
	var buf [C.MPI_MAX_LIBRARY_VERSION_STRING + 1]C.char
	C.hp_library_version(&buf[0])
	return implementationOf(C.GoString(&buf[0]))
})
