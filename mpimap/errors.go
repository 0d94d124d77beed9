package mpimap

import (
	"errors"
	"fmt"
)

// TaskError is the failure of one task: the error fn returned, or its panic.
type TaskError struct {
	Index int    // position in args
	Rank  int    // rank that ran it
	Host  string // host of that rank
	Panic bool   // fn panicked; Err's text carries the panic value and stack
	Err   error  // the task's error (the original on its own rank, its text elsewhere)
}

func (e *TaskError) Error() string {
	what := "failed"
	if e.Panic {
		what = "panicked"
	}
	return fmt.Sprintf("task %d %s on rank %d (%s): %v", e.Index, what, e.Rank, e.Host, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }

// ErrInterrupted is wrapped by the error of a Map that stopped before every
// task ran, because a context was cancelled (by a signal under mpi.Run, for
// example). The results that were computed are kept.
var ErrInterrupted = errors.New("mpimap: map interrupted")

// remoteError is an error that happened on another rank: only its text
// crossed over.
type remoteError string

func (e remoteError) Error() string { return string(e) }
