package main

import (
	"context"
	"os"

	"github.com/hpcmap/hpcmap/internal/farm"
	"github.com/hpcmap/hpcmap/mpi"
)

func init() {
	commands["farm"] = command{
		summary: "run a command over many arguments across MPI ranks, with GNU Parallel's command line",
		run:     runFarm,
	}
}

// runFarm is hpcmap farm: every rank runs the farm; the exit status is the
// farm's (GNU Parallel's convention), or mpi.Run's when MPI itself failed.
func runFarm(args []string) int {
	status := 0
	code := mpi.Run(func(ctx context.Context, world mpi.Comm) error {
		var err error
		status, err = farm.Run(ctx, world, args, farm.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
		return err
	})
	if code != 0 {
		return code
	}
	return status
}
