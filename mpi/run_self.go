//go:build !mpi && !mpich && !mpicc

package mpi

import (
	"context"
	"fmt"
	"os"
)

func implementation() string { return "" }

// Built without MPI, Run is one rank of Local's world: the same semantics as
// MPI at np=1, collectives included.
func run(ctx context.Context, main func(ctx context.Context, world Comm) error) int {
	if err := launchMismatch(os.Getenv, 1, "it was built without MPI"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := runLocal(ctx, 1, main); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitCode(err)
	}
	return 0
}
