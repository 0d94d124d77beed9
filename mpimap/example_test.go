package mpimap_test

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// Three ranks share ten tasks, dealt dynamically; rank 0 gets every result in
// argument order. mpi.Local stands in for mpirun -np 3.
func ExampleMap() {
	run := func(ctx context.Context, world mpi.Comm) error {
		args := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
		roots, err := mpimap.Map(ctx, world, args, func(ctx context.Context, x float64) (float64, error) {
			return math.Sqrt(x), nil
		}, mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithChunk(2))
		if err != nil {
			return err
		}
		if world.Rank() == 0 {
			fmt.Printf("%.3f\n", roots)
		}
		return nil
	}
	if err := mpi.Local(3, run); err != nil {
		fmt.Println(err)
	}
	// Output: [0.000 1.000 1.414 1.732 2.000 2.236 2.449 2.646 2.828 3.000]
}

// A failing task does not stop the others; its error names the task.
func ExampleTaskError() {
	run := func(ctx context.Context, world mpi.Comm) error {
		args := []float64{4, -1, 9}
		roots, err := mpimap.Map(ctx, world, args, func(ctx context.Context, x float64) (float64, error) {
			if x < 0 {
				return 0, fmt.Errorf("negative input %g", x)
			}
			return math.Sqrt(x), nil
		})
		var te *mpimap.TaskError
		if world.Rank() == 0 && errors.As(err, &te) {
			fmt.Println(roots, "- task", te.Index, "failed:", te.Err)
		}
		return nil
	}
	if err := mpi.Local(2, run); err != nil {
		fmt.Println(err)
	}
	// Output: [2 0 3] - task 1 failed: negative input -1
}
