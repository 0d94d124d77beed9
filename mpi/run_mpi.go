//go:build (mpi || mpich || mpicc) && !(mpi && mpich) && !(mpi && mpicc) && !(mpich && mpicc)

package mpi

// Start-up and shutdown of a rank of the system MPI.

// #include "binding.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
)

// MPI is initialised and finalised on the main goroutine, which this keeps on
// the main thread: MPI wants both on the same thread.
func init() { runtime.LockOSThread() }

func run(ctx context.Context, main func(ctx context.Context, world Comm) error) int {
	var serialized C.int
	if code := C.hp_init(&serialized); code != C.MPI_SUCCESS {
		fmt.Fprintf(os.Stderr, "mpi: MPI_Init_thread: %v\n", mpiError("Init", code))
		return 1
	}
	world, err := newMPIComm(C.hp_world())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		C.MPI_Abort(C.hp_world(), 1)
		return 1
	}
	if serialized == 0 {
		err = fmt.Errorf("mpi: %s grants less than MPI_THREAD_SERIALIZED, which this package needs", implementation())
	}
	if err == nil {
		err = launchMismatch(os.Getenv, world.size, "it was built for "+implementation()+" (build tag "+buildTag+")")
	}
	var farewell *mpiComm // the end of the job's own communicator, apart from main's
	if err == nil {
		farewell, err = world.dup()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		world.abortAfterOutput(1)
	}
	// main runs on a goroutine of its own, free to move between threads:
	// MPI_THREAD_SERIALIZED allows that, and a goroutine locked to a thread
	// pays two futex calls and a thread switch for every wait or yield, which
	// made a polling map loop spend three quarters of its time switching.
	// Initialisation and finalisation stay on the main thread, as MPI wants.
	done := make(chan error, 1)
	go func() { done <- callMain(ctx, newComm(world), main) }()
	err = <-done
	// A failed rank aborts the job, rather than finalising: the others may be
	// waiting for it, and a launcher may take a job whose ranks finalised for
	// a success (MPICH's did, after forwarding a SIGTERM, though the ranks
	// exited 1). If every rank returns from main in time, the failures are
	// reported once each first; otherwise the rank reports its own.
	if ferr := farewell.together(err != nil); ferr != nil {
		if err == nil {
			err = &RankError{Rank: world.rank, Host: world.host, Err: ferr}
		}
		fmt.Fprintln(os.Stderr, err)
		world.abortAfterOutput(exitCode(err))
	}
	failed, rerr := reportFailures(newComm(farewell), err, os.Stderr)
	if rerr != nil {
		fmt.Fprintln(os.Stderr, errors.Join(err, &RankError{Rank: world.rank, Host: world.host, Err: rerr}))
		world.abortAfterOutput(1)
	}
	if failed > 0 {
		// Every rank has printed what it reports before the job is torn down.
		farewell.barrier()
		if err != nil {
			world.abortAfterOutput(exitCode(err))
		}
	}
	serial.Lock()
	defer serial.Unlock()
	if code := C.MPI_Finalize(); code != C.MPI_SUCCESS {
		fmt.Fprintf(os.Stderr, "rank %d on %s: %v\n", world.rank, world.host, mpiError("Finalize", code))
		return 1
	}
	return 0
}

// abortAfterOutput aborts the job once the launcher has had time to forward
// what this rank just wrote to stderr: MPICH's launcher lost the message of a
// rank that aborted at once about one time in ten.
func (c *mpiComm) abortAfterOutput(code int) {
	time.Sleep(outputGrace)
	c.abort(code)
}

// outputGrace is how long a rank that aborts waits for its output to leave.
const outputGrace = 250 * time.Millisecond

// dup is a copy of c for the package's own use: its collectives can never be
// mistaken for those of the user's code on c.
func (c *mpiComm) dup() (*mpiComm, error) {
	var out C.MPI_Comm
	if err := call("Comm_dup", func() C.int { return C.hp_dup(c.comm, &out) }); err != nil {
		return nil, err
	}
	return newMPIComm(out)
}

// together waits until every rank of c has called it: without a bound on a
// rank whose main succeeded, as MPI_Finalize would, but for at most
// farewellGrace on one whose main failed, whose peers may be waiting for it.
// It polls a non-blocking barrier, sleeping between tests, so that a rank
// that is done leaves its core to those still working.
func (c *mpiComm) together(failed bool) error {
	r := &mpiRequest{}
	if err := call("Ibarrier", func() C.int { return C.hp_ibarrier(c.comm, &r.req) }); err != nil {
		return err
	}
	deadline := time.Now().Add(farewellGrace)
	for {
		done, err := r.Test()
		if done || err != nil {
			return err
		}
		if failed && time.Now().After(deadline) {
			return errPeersBusy
		}
		time.Sleep(time.Millisecond)
	}
}
