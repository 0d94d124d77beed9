// Command fault injects one failure into a job whose ranks are inside a Map:
//
//	fault panic-outside | error-outside | exit-in-task | kill-rank | kill-root | kill-leader | task-panic
//
// kill-leader groups the ranks in nodes of two (HPCMAP_NODE_SIZE=2) and kills
// rank 2, the leader of the second node, in its first task after 300 ms.
// Every mode but task-panic must end the job with a non-zero exit within
// seconds; task-panic must end it normally, the panic reported as a TaskError.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

func main() { os.Exit(mpi.Run(run)) }

func run(ctx context.Context, c mpi.Comm) error {
	mode := os.Args[1]
	last := c.Rank() == c.Size()-1
	switch {
	case mode == "panic-outside" && last:
		time.Sleep(300 * time.Millisecond) // the others are in Map by now
		panic("injected panic outside Map")
	case mode == "error-outside" && last:
		time.Sleep(300 * time.Millisecond)
		return errors.New("injected error outside Map")
	}
	if mode == "kill-leader" {
		os.Setenv("HPCMAP_NODE_SIZE", "2")
	}
	start := time.Now()
	args := make([]int, 60)
	for i := range args {
		args[i] = i
	}
	_, err := mpimap.Map(ctx, c, args, func(ctx context.Context, i int) (int, error) {
		time.Sleep(20 * time.Millisecond)
		if i == 20 {
			switch {
			case mode == "exit-in-task" && last:
				os.Exit(1)
			case mode == "kill-rank" && last, mode == "kill-root" && c.Rank() == 0:
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			case mode == "task-panic":
				panic("injected panic in a task")
			}
		}
		if mode == "kill-leader" && c.Rank() == 2 && time.Since(start) > 300*time.Millisecond {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		return i, nil
	}, mpimap.WithSchedule(mpimap.Dynamic), mpimap.WithWorkers(1))
	var te *mpimap.TaskError
	if mode == "task-panic" && errors.As(err, &te) && te.Panic {
		_, err := mpi.Fprintf(os.Stdout, c, "task %d panicked on rank %d; the job goes on\n", te.Index, te.Rank)
		return err
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("mode %q injected nothing", mode)
}
