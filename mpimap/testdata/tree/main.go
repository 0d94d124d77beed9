// Command tree runs maps of every function, schedule and chunk through node
// leaders, at whatever size it is launched, and checks every result:
//
//	HPCMAP_NODE_SIZE=4 mpirun -np 16 tree
//
// Rank 0 prints "tree: N maps right" when all are.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

func main() { os.Exit(mpi.Run(run)) }

func value(_ context.Context, i int) (float64, error) { return float64(i)*1.5 + 1, nil }

func run(ctx context.Context, c mpi.Comm) error {
	np, maps := c.Size(), 0
	var errs []error
	for _, n := range []int{0, 1, np - 1, np + 1, 1000} {
		for _, s := range []mpimap.Schedule{mpimap.Block, mpimap.Cyclic, mpimap.Dynamic, mpimap.Guided} {
			for _, chunk := range []int{1, 7} {
				opts := []mpimap.Option{mpimap.WithSchedule(s), mpimap.WithChunk(chunk), mpimap.WithWorkers(1)}
				where := fmt.Sprintf("n=%d %v chunk=%d", n, s, chunk)
				args := make([]int, n)
				for i := range args {
					args[i] = i
				}
				got, err := mpimap.Map(ctx, c, args, value, opts...)
				errs = append(errs, check(c, where+" Map", n, got, err))
				got, err = mpimap.MapN(ctx, c, n, value, opts...)
				errs = append(errs, check(c, where+" MapN", n, got, err))
				var each []float64
				if c.Rank() == 0 {
					each = make([]float64, n)
				}
				err = mpimap.EachN(ctx, c, n, value, func(i int, r float64) error { each[i] = r; return nil }, opts...)
				errs = append(errs, check(c, where+" EachN", n, each, err))
				maps += 3
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	_, err := mpi.Fprintf(os.Stdout, c, "tree: %d maps right\n", maps)
	return err
}

func check(c mpi.Comm, where string, n int, got []float64, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if c.Rank() != 0 {
		return nil
	}
	if len(got) != n {
		return fmt.Errorf("%s: %d results, want %d", where, len(got), n)
	}
	for i, r := range got {
		if want, _ := value(nil, i); r != want {
			return fmt.Errorf("%s: result %d is %v, want %v", where, i, r, want)
		}
	}
	return nil
}
