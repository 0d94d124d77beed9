package mpi

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hpcmap/hpcmap/internal/recovered"
)

// Run initialises MPI (or, in a build without MPI, the single-process world),
// calls main on every rank, finalises, and returns the process exit code:
//
//	func main() { os.Exit(mpi.Run(run)) }
//
// If main returns an error or panics on any rank, the job ends with a
// non-zero code (1 for an error, 2 for a panic): never a hang, never exit 0.
// When every rank returns from main within 3 s of the failure, each distinct
// error is printed once, "ranks 0-7 on HOST: <error>" when several ranks
// failed alike: a failed map on a thousand ranks says so once, not a thousand
// times. Then, if every rank failed (a bad flag, a map that failed), the
// ranks finalise MPI and exit with their codes, which every launcher reports
// as a failure (Open MPI's mpirun adds a banner of its own unless started
// with -q). Otherwise the failed ranks abort the job: a rank that fails while
// others work on prints "rank R on HOST: <error>" and aborts at once. After
// SIGTERM or SIGINT the failed ranks abort too, as MPICH's mpirun may report
// a job whose ranks finalised after it forwarded the signal as a success.
//
// The context is cancelled on SIGTERM or SIGINT (a Slurm time limit, scancel,
// Ctrl-C, or mpirun forwarding them), so that main can drain and return; a
// second signal has its default effect.
//
// A binary built without MPI, or for the other MPI implementation, that is
// started by a launcher as several ranks fails at once with a message saying
// how to rebuild, instead of running as independent copies.
func Run(main func(ctx context.Context, world Comm) error) int {
	if main == nil {
		fmt.Fprintln(os.Stderr, "mpi: Run called with a nil main")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default action for a second signal
	}()
	return run(ctx, main)
}

// RankError is the failure of one rank: what Run prints before aborting, and
// what Local returns.
type RankError struct {
	Rank  int
	Host  string
	Panic bool // main panicked; Err carries the value and the stack
	Err   error
}

func (e *RankError) Error() string { return fmt.Sprintf("rank %d on %s: %v", e.Rank, e.Host, e.Err) }
func (e *RankError) Unwrap() error { return e.Err }

// callMain runs main on one rank and turns an error, a panic or an Abort
// (runtime.Goexit) into a *RankError.
func callMain(ctx context.Context, c Comm, main func(ctx context.Context, world Comm) error) (err error) {
	returned := false
	defer func() {
		if v := recover(); v != nil {
			err = &RankError{Rank: c.Rank(), Host: c.Host(), Panic: true, Err: recovered.Error(v)}
		} else if !returned && err == nil {
			err = &RankError{Rank: c.Rank(), Host: c.Host(), Err: errAbortCalled}
		}
	}()
	if e := main(ctx, c); e != nil {
		err = &RankError{Rank: c.Rank(), Host: c.Host(), Err: e}
	}
	returned = true
	return err
}

var errAbortCalled = fmt.Errorf("%w by Abort", ErrAborted)

// exitCode is the code a failed rank exits or aborts with.
func exitCode(err error) int {
	if re, ok := err.(*RankError); ok && re.Panic {
		return 2
	}
	return 1
}
