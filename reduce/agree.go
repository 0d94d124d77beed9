package reduce

import (
	"fmt"
	"strings"

	"github.com/hpcmap/hpcmap/mpi"
)

// This file is the one place where the ranks of a call agree on whether it
// can go on. Every check of an argument that one rank can get wrong on its own
// (a nil op, a dst of the wrong length, a Histogram not made with
// NewHistogram, a value that does not encode) goes through agree, so that
// every rank returns an error exactly when some rank has one: a rank that
// returned early would leave the others waiting in the next collective.

// checkComm refuses the nil Comm that Split gives the ranks it leaves out.
// Such a rank belongs to no communicator, so there is no one to agree with.
func checkComm(c mpi.Comm, name string) error {
	if c == nil {
		return fmt.Errorf("reduce: %s: nil Comm (Split gives one to the ranks it leaves out)", name)
	}
	return nil
}

// agree tells every rank whether any rank has a problem, and the maximum of
// facts over the ranks, in one collective call while no rank has one. problem
// is what this rank found wrong on its own, nil if nothing; its text should
// name the rank. If some rank has a problem, verdict is non-nil on every rank:
// its text joins the ranks' problems (the first maxProblems of them), and on a
// rank with a problem it wraps that rank's own. err is a failure of the
// communication itself, and then nothing is agreed.
func agree(c mpi.Comm, problem error, facts ...int64) (maxFacts []int64, verdict, err error) {
	in := make([]int64, 1+len(facts))
	if problem != nil {
		in[0] = 1
	}
	copy(in[1:], facts)
	out := make([]int64, len(in))
	if err := c.Allreduce(mpi.Bytes(out), mpi.Bytes(in), mpi.Int64, mpi.Max); err != nil {
		return nil, nil, err
	}
	if out[0] == 0 {
		return out[1:], nil, nil
	}
	// Someone has a problem: rank 0 collects their texts and tells everyone.
	var text []byte
	if problem != nil {
		text = []byte(problem.Error())
		if len(text) == 0 { // an empty text would go unreported
			text = fmt.Appendf(nil, "rank %d: %T", c.Rank(), problem)
		}
	}
	parts, err := c.Gather(0, text)
	if err != nil {
		return nil, nil, err
	}
	var problems []string
	for _, p := range parts { // nil off rank 0
		if len(p) > 0 {
			problems = append(problems, string(p))
		}
	}
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems], fmt.Sprintf("and %d more ranks", len(problems)-maxProblems))
	}
	msg, err := c.Bcast(0, []byte(strings.Join(problems, "; ")))
	if err != nil {
		return nil, nil, err
	}
	return out[1:], &disagreement{msg: string(msg), err: problem}, nil
}

// maxProblems is the most ranks whose problems a verdict spells out: on a
// thousand ranks with the same mistake, the first few say it all.
const maxProblems = 3

// disagreement is a verdict of agree: the same text on every rank, wrapping
// the rank's own problem where it had one.
type disagreement struct {
	msg string
	err error
}

func (e *disagreement) Error() string { return e.msg }
func (e *disagreement) Unwrap() error { return e.err }
