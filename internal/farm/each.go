package farm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// TEMPORARY: eachN stands in for mpimap.EachN, whose signature design.md
// fixes, until the engine has it; then the one call in run.go becomes
// mpimap.EachN and this file goes.
//
// It runs mpimap.Map over windows of consecutive tasks and gives each
// window's results to sink on rank 0 when the window ends, in task order.
// So output, the joblog, --halt and progress move a window at a time, and
// the slots wait for a window's last task before the next window starts;
// windows hold at least shimWindow tasks (the farm sets its slots: one
// round) and grow to about a second of work. A window is dealt
// cyclically, whatever opts say: Map's dynamic dealing lets rank 0 hold
// twice its workers' tasks, which for a window of a few long tasks leaves
// other ranks' slots idle. EachN will deal continuously and hand results
// over as they arrive.
func eachN[R any](ctx context.Context, c mpi.Comm, n int, fn func(ctx context.Context, i int) (R, error),
	sink func(index int, r R) error, opts ...mpimap.Option) error {
	type done struct {
		V   R
		Ran bool
	}
	least := max(1, int(shimWindow.Load()))
	window := least
	var errs []error
	var sinkErr error
	for start := 0; ; {
		stop, size, err := agreeNext(ctx, c, sinkErr, window)
		switch {
		case err != nil:
			return err
		case stop == stopSink && sinkErr != nil:
			return sinkErr
		case stop == stopSink:
			return errors.New("farm: rank 0 failed to take the results")
		case start >= n:
			return errors.Join(errs...)
		case stop == stopContext:
			return errors.Join(append(errs, fmt.Errorf("%w: %d of %d tasks not run", mpimap.ErrInterrupted, n-start, n))...)
		}
		end := min(n, start+size)
		idx := make([]int, end-start)
		for k := range idx {
			idx[k] = start + k
		}
		began := time.Now()
		res, err := mpimap.Map(ctx, c, idx, func(ctx context.Context, i int) (done, error) {
			v, err := fn(ctx, i)
			return done{v, err == nil}, err
		}, append(opts, mpimap.WithSchedule(mpimap.Cyclic))...)
		for k, d := range res {
			if d.Ran && sinkErr == nil {
				sinkErr = sink(start+k, d.V)
			}
		}
		if errors.Is(err, mpimap.ErrInterrupted) {
			return errors.Join(append(errs, err)...)
		}
		if err != nil {
			errs = append(errs, err)
		}
		start = end
		switch took := time.Since(began); {
		case took < time.Second/2:
			window *= 2
		case took > 2*time.Second:
			window = max(least, window/2)
		}
	}
}

// Why every rank stops the windows.
const (
	stopNot     = 0
	stopContext = 1 // a context was cancelled
	stopSink    = 2 // the sink failed
)

// agreeNext takes, on every rank, the same decision: go on with rank 0's
// window, or stop because some rank's context was cancelled or rank 0's
// sink failed.
func agreeNext(ctx context.Context, c mpi.Comm, sinkErr error, window int) (stop int64, size int, err error) {
	mine := []int64{stopNot, 0}
	if ctx.Err() != nil {
		mine[0] = stopContext
	}
	if sinkErr != nil {
		mine[0] = stopSink
	}
	if c.Rank() == 0 {
		mine[1] = int64(window)
	}
	var agreed [2]int64
	if err := c.Allreduce(mpi.Bytes(agreed[:]), mpi.Bytes(mine), mpi.Int64, mpi.Max); err != nil {
		return 0, 0, fmt.Errorf("farm: agreeing on the next tasks: %w", err)
	}
	return agreed[0], int(agreed[1]), nil
}

// shimWindow is the fewest tasks in a window of eachN.
var shimWindow atomic.Int64
