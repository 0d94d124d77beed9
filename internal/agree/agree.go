// Package agree keeps the ranks of a communicator in step when something goes
// wrong on some of them: every rank returns an error exactly when any rank has
// one. A collective call that fails on one rank and not on the others would
// leave those waiting in the next collective for ever; with agree, all ranks
// take the same path. Each function here is a collective: every rank of c
// calls it, in the same order as its other collectives.
//
// The common path costs one MPI_Allreduce of a few int64s. Only when a rank
// has failed does a second collective carry its error's text to the others.
package agree

import (
	"errors"
	"fmt"
	"math"

	"github.com/hpcmap/hpcmap/internal/datatype"
)

// Comm is the part of a communicator that agreement uses; every mpi.Comm has
// it. (This package sits below package mpi, whose Run uses it, and so names
// mpi's types by their definitions in internal/datatype.)
type Comm interface {
	Rank() int
	Size() int
	Bcast(root int, data []byte) ([]byte, error)
	Gather(root int, data []byte) ([][]byte, error)
	Allreduce(dst, src []byte, t datatype.Type, op datatype.Op) error
}

// RankError is another rank's failure, as every rank that did not fail itself
// returns it: the lowest failing rank, its error's text, and how many ranks
// failed.
type RankError struct {
	Rank   int    // the lowest rank that failed
	Msg    string // its error's text
	Failed int    // the number of ranks that failed, at least 1
}

func (e *RankError) Error() string {
	if e.Failed > 1 {
		return fmt.Sprintf("rank %d (and %d more): %s", e.Rank, e.Failed-1, e.Msg)
	}
	return fmt.Sprintf("rank %d: %s", e.Rank, e.Msg)
}

// Errors returns nil on every rank when local is nil on every rank.
// Otherwise it returns a non-nil error on every rank: local itself where it
// is not nil, and a *RankError naming the lowest failing rank and its text
// elsewhere. An error of the communication itself is returned as it is, on
// the ranks that meet it.
func Errors(c Comm, local error) error {
	_, err := Values(c, local)
	return err
}

// Range is the smallest and the largest of one value across the ranks.
type Range struct{ Min, Max int64 }

// Same reports whether every rank has the same value.
func (r Range) Same() bool { return r.Min == r.Max }

// Values is Errors, and compares values across the ranks in the same
// collective call: ranges[i] is the smallest and the largest of vals[i] over
// all ranks. Every rank must pass the same number of values. Where Errors
// would return an error, ranges is nil.
//
// To check that ranks agree on something larger than a number (options,
// arguments), pass a hash of it.
func Values(c Comm, local error, vals ...int64) (ranges []Range, err error) {
	// One MPI_MAX over (v, -v) for each value gives its largest and its
	// smallest, and over -rank of each failed rank the lowest that failed.
	in := make([]int64, 2*len(vals)+1)
	for i, v := range vals {
		in[2*i], in[2*i+1] = v, -v
	}
	const none = math.MinInt64
	in[len(in)-1] = none
	if local != nil {
		in[len(in)-1] = -int64(c.Rank())
	}
	out := make([]int64, len(in))
	if err := c.Allreduce(datatype.Bytes(out), datatype.Bytes(in), datatype.Int64, datatype.Max); err != nil {
		return nil, errors.Join(local, fmt.Errorf("agree: comparing across ranks: %w", err))
	}
	if out[len(out)-1] != none {
		return nil, failure(c, local, int(-out[len(out)-1]))
	}
	ranges = make([]Range, len(vals))
	for i := range ranges {
		ranges[i] = Range{Min: -out[2*i+1], Max: out[2*i]}
	}
	return ranges, nil
}

// failure is the error of a call in which some ranks failed, the lowest of
// them being first: it tells every rank its text, and how many ranks failed.
func failure(c Comm, local error, first int) error {
	var text []byte
	if c.Rank() == first {
		text = []byte(local.Error())
	}
	text, berr := c.Bcast(first, text)
	failed := int64(0)
	if local != nil {
		failed = 1
	}
	count := make([]int64, 1)
	cerr := c.Allreduce(datatype.Bytes(count), datatype.Bytes([]int64{failed}), datatype.Int64, datatype.Sum)
	switch {
	case local != nil:
		return local
	case berr != nil || cerr != nil:
		return fmt.Errorf("agree: rank %d failed, and telling the others why failed too: %w", first, errors.Join(berr, cerr))
	}
	return &RankError{Rank: first, Msg: string(text), Failed: int(count[0])}
}
