// Command fault fails on its last rank while the others wait for a message
// that never comes: the job must end, non-zero, instead of hanging. Or every
// rank fails, alike or each in its own way, and returns; or every rank waits
// for a signal (after rank 0 prints "ready") and then fails alike.
//
//	fault panic|error|all-error|each-error|signal|exit0
//
// In mode exit0 the last rank calls os.Exit(0) while the others wait: it
// leaves without finalising MPI.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

func main() { os.Exit(mpi.Run(run)) }

func run(ctx context.Context, c mpi.Comm) error {
	switch os.Args[1] {
	case "all-error":
		return errors.New("injected failure on every rank")
	case "each-error":
		return fmt.Errorf("injected failure %d", c.Rank())
	case "signal":
		if err := c.Barrier(); err != nil {
			return err
		}
		mpi.Fprintf(os.Stdout, c, "ready\n")
		<-ctx.Done()
		return errors.New("stopped by a signal")
	}
	if c.Rank() == c.Size()-1 {
		time.Sleep(300 * time.Millisecond) // let the others block first
		if os.Args[1] != "exit0" {
			// For the test's clock: how long the job takes to end from here.
			fmt.Fprintf(os.Stderr, "failing at %d\n", time.Now().UnixNano())
		}
		switch os.Args[1] {
		case "panic":
			panic("injected panic")
		case "error":
			return errors.New("injected failure")
		case "exit0":
			os.Exit(0)
		}
		return fmt.Errorf("unknown mode %q", os.Args[1])
	}
	_, _, err := c.Recv(mpi.AnySource, 1)
	return err
}
