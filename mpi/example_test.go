package mpi_test

import (
	"context"
	"fmt"
	"os"

	"github.com/hpcmap/hpcmap/mpi"
)

// A program's main is one line; run is what every rank does. Local stands in
// for mpirun here, with four ranks as goroutines.
func Example() {
	run := func(ctx context.Context, world mpi.Comm) error {
		// Every rank contributes its rank; rank 0 prints the sum.
		sum := make([]int64, 1)
		if err := world.Reduce(0, mpi.Bytes(sum), mpi.Bytes([]int64{int64(world.Rank())}), mpi.Int64, mpi.Sum); err != nil {
			return err
		}
		_, err := mpi.Fprintf(os.Stdout, world, "%d ranks, ranks sum to %d\n", world.Size(), sum[0])
		return err
	}
	// In a real program: func main() { os.Exit(mpi.Run(run)) }
	if err := mpi.Local(4, run); err != nil {
		fmt.Println(err)
	}
	// Output: 4 ranks, ranks sum to 6
}

func ExampleBcastSlice() {
	err := mpi.Local(3, func(ctx context.Context, c mpi.Comm) error {
		var params []float64
		if c.Rank() == 0 {
			params = []float64{0.5, 2} // read from a file, say, on rank 0 only
		}
		params, err := mpi.BcastSlice(c, 0, params)
		if err != nil {
			return err
		}
		if c.Rank() == 2 {
			fmt.Println("rank 2 has", params)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: rank 2 has [0.5 2]
}

func ExampleLocal_failure() {
	err := mpi.Local(3, func(ctx context.Context, c mpi.Comm) error {
		if c.Rank() == 1 {
			return fmt.Errorf("input file missing")
		}
		return c.Barrier() // the others are released with ErrAborted
	})
	var re *mpi.RankError
	fmt.Println(errorsAs(err, &re), re.Rank, re.Err)
	// Output: true 1 input file missing
}
