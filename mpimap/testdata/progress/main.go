// Command progress runs a map that reports its progress on stdout, for a
// test that launches it with its output going to a log rather than a
// terminal.
package main

import (
	"context"
	"os"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

func main() { os.Exit(mpi.Run(run)) }

func run(ctx context.Context, c mpi.Comm) error {
	_, err := mpimap.Map(ctx, c, make([]int, 50), func(context.Context, int) (int, error) {
		time.Sleep(5 * time.Millisecond) // long enough for a terminal's redraws
		return 0, nil
	}, mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithWorkers(1), mpimap.WithProgress(os.Stdout))
	return err
}
