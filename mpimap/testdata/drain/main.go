// Command drain runs a journaled map of slow tasks, for a test that stops it
// with SIGTERM and runs it again:
//
//	drain JOURNAL LOGDIR [map|mapn|each|eachn|eachn-tree]
//
// eachn-tree is eachn through node leaders: nodes of two ranks.
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
	mode := "map"
	if len(os.Args) > 3 {
		mode = os.Args[3]
	}
	pause := 20 * time.Millisecond
	if mode == "eachn-tree" {
		mode = "eachn"
		os.Setenv("HPCMAP_NODE_SIZE", "2")
		pause *= 2 // more ranks: the signal must still come before the end
	}
	task := func(ctx context.Context, i int) (float64, error) {
		select {
		case <-time.After(pause):
		case <-ctx.Done(): // the drain: give up, to be run again on resume
			return 0, ctx.Err()
		}
		mu.Lock()
		fmt.Fprintln(log, i)
		mu.Unlock()
		return value(i), nil
	}
	byArg := func(ctx context.Context, i int) (float64, error) { return task(ctx, i) }
	opts := []mpimap.Option{mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithJournal(os.Args[1]), mpimap.WithWorkers(2)}
	var results []float64
	sunk := make([]int, n) // how many times the sink had each task
	sink := func(i int, r float64) error {
		results[i] = r
		sunk[i]++
		return nil
	}
	if c.Rank() == 0 && (mode == "each" || mode == "eachn") {
		results = make([]float64, n)
	}
	switch mode {
	case "map":
		results, err = mpimap.Map(ctx, c, args, byArg, opts...)
	case "mapn":
		results, err = mpimap.MapN(ctx, c, n, task, opts...)
	case "each":
		err = mpimap.Each(ctx, c, args, byArg, sink, opts...)
	case "eachn":
		err = mpimap.EachN(ctx, c, n, task, sink, opts...)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return err
	}
	if c.Rank() == 0 {
		for i, r := range results {
			if r != value(i) {
				return fmt.Errorf("result %d is %v, want %v", i, r, value(i))
			}
			if (mode == "each" || mode == "eachn") && sunk[i] != 1 {
				return fmt.Errorf("the sink had task %d %d times", i, sunk[i])
			}
		}
		fmt.Println("complete", len(results))
	}
	return nil
}
