//go:build hpcmapbench && (mpi || mpich || mpicc)

// Package cloop lets bench/mapbench time C's own MPI_Allreduce in the same
// process as reduce.AllSum, interleaved with it, so that their ratio does not
// depend on what else the machine did between two launches. It is built only
// with the build tag hpcmapbench, beside one of the mpi package's MPI tags.
package cloop

/*
#include <mpi.h>

static int allreduce_loop(int n, int *rank, int *size) {
	MPI_Comm_rank(MPI_COMM_WORLD, rank);
	MPI_Comm_size(MPI_COMM_WORLD, size);
	double in = 1, out;
	for (int i = 0; i < n; i++) {
		int err = MPI_Allreduce(&in, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
		if (err) return err;
	}
	return MPI_SUCCESS;
}
*/
import "C"

import (
	"fmt"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

// AllreduceLoop makes n calls of MPI_Allreduce of one double on
// MPI_COMM_WORLD from a loop in C, as one call through cgo, and returns how
// long they took. world must be the world that mpi.Run gave, and no other
// goroutine may be calling MPI meanwhile: this call bypasses the mpi
// package's lock.
func AllreduceLoop(world mpi.Comm, n int) (time.Duration, error) {
	var rank, size C.int
	start := time.Now()
	code := C.allreduce_loop(C.int(n), &rank, &size)
	took := time.Since(start)
	switch {
	case int(rank) != world.Rank() || int(size) != world.Size():
		return 0, fmt.Errorf("cloop: MPI_COMM_WORLD has rank %d of %d, the communicator given rank %d of %d: give the world", rank, size, world.Rank(), world.Size())
	case code != C.MPI_SUCCESS:
		return 0, fmt.Errorf("cloop: MPI_Allreduce failed with code %d", int(code))
	}
	return took, nil
}
