//go:build (mpi || mpich) && !(mpi && mpich) && hpcmapbench

package mpi

// This file is built only for bench/mapbench (build tag hpcmapbench): it
// lets the benchmark time C's own MPI_Allreduce in the same process as
// reduce.AllSum, interleaved with it, so that their ratio does not depend on
// what else the machine did between two launches.

/*
#include <mpi.h>

static int hp_allreduce_loop(MPI_Comm c, int n) {
	double in = 1, out;
	for (int i = 0; i < n; i++) {
		int err = MPI_Allreduce(&in, &out, 1, MPI_DOUBLE, MPI_SUM, c);
		if (err) return err;
	}
	return MPI_SUCCESS;
}
*/
import "C"

import (
	"fmt"
	"time"
)

// CAllreduceLoop makes n calls of MPI_Allreduce of one double on c's
// communicator from a loop in C, as one call of this package, and returns how
// long they took. c must be a communicator of the system MPI.
func CAllreduceLoop(c Comm, n int) (time.Duration, error) {
	mc, ok := c.(*mpiComm)
	if !ok {
		return 0, fmt.Errorf("mpi: CAllreduceLoop needs a communicator of the system MPI, not %T", c)
	}
	start := time.Now()
	err := call("Allreduce", func() C.int { return C.hp_allreduce_loop(mc.comm, C.int(n)) })
	return time.Since(start), err
}
