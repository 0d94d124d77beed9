package mpimap

import (
	"context"
	"errors"
	"fmt"

	"github.com/hpcmap/hpcmap/mpi"
)

// TaskError is the failure of one task: the error fn returned, or its panic.
type TaskError struct {
	Index int    // position in args
	Rank  int    // rank that ran it
	Host  string // host of that rank
	Panic bool   // fn panicked; Err's text carries the panic value and stack
	Err   error  // the task's error (the original on its own rank, its text elsewhere)
	// Attempts is how many times the task ran: 1, or more WithRetries. Rank,
	// Host, Panic and Err describe the last attempt.
	Attempts int
}

func (e *TaskError) Error() string {
	what := "failed"
	if e.Panic {
		what = "panicked"
	}
	tries := ""
	if e.Attempts > 1 {
		tries = fmt.Sprintf(" (attempt %d)", e.Attempts)
	}
	return fmt.Sprintf("task %d %s on rank %d (%s)%s: %v", e.Index, what, e.Rank, e.Host, tries, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }

// ErrInterrupted is wrapped by the error of a Map that stopped before every
// task ran, because a context was cancelled (by a signal under mpi.Run, for
// example). The results that were computed are kept.
var ErrInterrupted = errors.New("mpimap: map interrupted")

// remoteError is an error that happened on another rank: its text crossed
// over, and whether it was a context's or a communicator's in use, so that
// errors.Is still matches context.DeadlineExceeded, context.Canceled and
// mpi.ErrInUse.
type remoteError struct {
	msg   string
	cause error // one of sentinels, or nil
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.cause }

// sentinels are the errors whose identity crosses ranks, by position.
var sentinels = []error{context.DeadlineExceeded, context.Canceled, mpi.ErrInUse}

// sentinelOf is the position of err's sentinel in sentinels, plus one, or 0.
func sentinelOf(err error) int {
	for k, s := range sentinels {
		if errors.Is(err, s) {
			return k + 1
		}
	}
	return 0
}
