// Command drain runs a journaled map of slow tasks, for a test that stops it
// with SIGTERM and runs it again:
//
//	drain JOURNAL LOGDIR
//
// Each rank appends the index of every task it completes to LOGDIR/rank-R.
// Rank 0 prints "complete N" when every result is present and right.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

const n = 400

func main() { os.Exit(mpi.Run(run)) }

func value(i int) float64 { return float64(i*i) / 3 }

func run(ctx context.Context, c mpi.Comm) error {
	log, err := os.OpenFile(filepath.Join(os.Args[2], fmt.Sprintf("rank-%d", c.Rank())), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	var mu sync.Mutex
	args := make([]int, n)
	for i := range args {
		args[i] = i
	}
	results, err := mpimap.Map(ctx, c, args, func(ctx context.Context, i int) (float64, error) {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done(): // the drain: give up, to be run again on resume
			return 0, ctx.Err()
		}
		mu.Lock()
		fmt.Fprintln(log, i)
		mu.Unlock()
		return value(i), nil
	}, mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithJournal(os.Args[1]), mpimap.WithWorkers(2))
	if err != nil {
		return err
	}
	if c.Rank() == 0 {
		for i, r := range results {
			if r != value(i) {
				return fmt.Errorf("result %d is %v, want %v", i, r, value(i))
			}
		}
		fmt.Println("complete", len(results))
	}
	return nil
}
