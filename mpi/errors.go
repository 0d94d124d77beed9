package mpi

import (
	"errors"
	"fmt"
)

// Error is a failed communication call: the operation, MPI's error code and
// string (or this package's description of bad arguments), and the error's
// class, which errors.Is matches against ErrTruncate, ErrRank and the others
// below, the same way on every MPI implementation, Local and a build without
// MPI.
type Error struct {
	Op    string // the call, e.g. "Send"
	Code  int    // MPI error code, 0 when the arguments were refused before MPI saw them
	Msg   string // MPI_Error_string, or what was wrong
	Class error  // one of the class errors below
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("mpi: %s: %s (MPI error %d)", e.Op, e.Msg, e.Code)
	}
	return fmt.Sprintf("mpi: %s: %s", e.Op, e.Msg)
}

// Unwrap returns the error's class, so that errors.Is(err, mpi.ErrRank) holds
// for a rank out of range whether this package or MPI refused it.
func (e *Error) Unwrap() error { return e.Class }

// The classes of *Error, after MPI's error classes (MPI_Error_class): an
// implementation's own codes map to these, and this package's argument checks
// use them too.
var (
	// ErrTruncate: a message or reduction buffer longer than the one that
	// receives it, as when ranks reduce buffers of different lengths.
	ErrTruncate = errors.New("mpi: message truncated")
	// ErrRank: a rank or root out of range (MPI_ERR_RANK, MPI_ERR_ROOT).
	ErrRank = errors.New("mpi: invalid rank")
	// ErrTag: a tag out of range (MPI_ERR_TAG).
	ErrTag = errors.New("mpi: invalid tag")
	// ErrCount: a buffer whose length does not fit the call: not a whole
	// number of elements, a dst shorter than src, more than MPI's int counts
	// hold, or a number of parts other than the ranks' (MPI_ERR_COUNT).
	ErrCount = errors.New("mpi: invalid count")
	// ErrBuffer: a buffer MPI cannot use, as a reduction's dst that shares
	// memory with its src (MPI_ERR_BUFFER).
	ErrBuffer = errors.New("mpi: invalid buffer")
	// ErrType: an invalid element type (MPI_ERR_TYPE).
	ErrType = errors.New("mpi: invalid datatype")
	// ErrOp: an invalid reduction operation (MPI_ERR_OP).
	ErrOp = errors.New("mpi: invalid operation")
	// ErrInUse: a communicator that a library is using meanwhile (a Map
	// runs on it): a collective, a receive of any tag, or a message on a
	// reserved tag would be mixed into the library's messages.
	ErrInUse = errors.New("mpi: communicator in use")
	// ErrComm: an invalid communicator (MPI_ERR_COMM).
	ErrComm = errors.New("mpi: invalid communicator")
	// ErrOther: every other class: MPI's internal errors, failed processes.
	ErrOther = errors.New("mpi: error")
)

func argError(class error, op, format string, a ...any) error {
	return &Error{Op: op, Msg: fmt.Sprintf(format, a...), Class: class}
}

// ErrAborted is returned by communication on Local ranks after another rank
// failed or called Abort: the job is over.
var ErrAborted = errors.New("mpi: job aborted")

// ErrDeadlock is returned by a receive on Local ranks that can never complete:
// every rank that could send the message has returned from main. Under MPI the
// same program would hang; the ranks' calls do not match.
var ErrDeadlock = errors.New("mpi: deadlock")
