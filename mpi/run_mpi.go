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
	tellSupervisor('i')
	world, farewell, err := start(serialized != 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if world != nil && world.size == 1 {
			return finalize(world, 1) // alone: nobody waits for this rank
		}
		C.MPI_Abort(C.hp_world(), 1)
		return 1
	}
	// main runs on a goroutine of its own, free to move between threads:
	// MPI_THREAD_SERIALIZED allows that, and a goroutine locked to a thread
	// pays two futex calls and a thread switch for every wait or yield, which
	// made a polling map loop spend three quarters of its time switching.
	// Initialisation and finalisation stay on the main thread, as MPI wants.
	done := make(chan error, 1)
	go func() { done <- callMain(ctx, newComm(world), main) }()
	err = <-done
	return finish(ctx, world, farewell, err)
}

// start sets up the world after MPI_Init: the world, and farewell, the job's
// own communicator for its end, apart from main's.
func start(serialized bool) (world, farewell *mpiComm, err error) {
	if world, err = newMPIComm(C.hp_world()); err != nil {
		return nil, nil, err
	}
	if !serialized {
		return world, nil, fmt.Errorf("mpi: %s grants less than MPI_THREAD_SERIALIZED, which this package needs", implementation())
	}
	if err := launchMismatch(os.Getenv, world.size, "it was built for "+implementation()+" (build tag "+buildTag+")"); err != nil {
		return world, nil, err
	}
	farewell, err = world.dup()
	return world, farewell, err
}

// finish ends the job once main has returned err on this rank. When every
// rank returns in time, the failures are reported once each; then a job in
// which no rank failed, or every rank did, finalises, and each rank exits
// with its own code. A rank that fails while others work on, or fails among
// ranks that succeeded, aborts the job instead: the others may be waiting for
// it, and a launcher may report only some ranks' codes. So does a failure
// after SIGTERM or SIGINT: MPICH's launcher, having forwarded one, reported
// success for a job whose ranks finalised and exited 1 (in about half the
// runs), but never for one that aborted.
func finish(ctx context.Context, world, farewell *mpiComm, err error) int {
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
	if failed == 0 {
		return finalize(world, 0)
	}
	// Every rank has printed what it reports before the job ends.
	farewell.barrier()
	if failed == world.size && ctx.Err() == nil {
		return finalize(world, exitCode(err))
	}
	if err != nil {
		world.abortAfterOutput(exitCode(err))
	}
	// The ranks that failed abort the job, which ends this one as well.
	return finalize(world, 0)
}

// finalize ends MPI on this rank, and returns code, the rank's exit code.
func finalize(world *mpiComm, code int) int {
	serial.Lock()
	defer serial.Unlock()
	if mc := C.MPI_Finalize(); mc != C.MPI_SUCCESS {
		fmt.Fprintf(os.Stderr, "rank %d on %s: %v\n", world.rank, world.host, mpiError("Finalize", mc))
		return max(code, 1)
	}
	tellSupervisor('f')
	return code
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

// farewellGrace is how long a rank whose main failed waits for every other
// rank to return from main, so that the job can report each failure once and
// finalise, before it reports its own and aborts the job.
const farewellGrace = 3 * time.Second

var errPeersBusy = fmt.Errorf("mpi: not every rank returned from main within %v of this one's failure", farewellGrace)

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
