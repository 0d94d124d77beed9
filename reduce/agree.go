package reduce

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hpcmap/hpcmap/internal/agree"
	"github.com/hpcmap/hpcmap/mpi"
)

// This file is the one place where the ranks of a call agree on whether it
// can go on. Every check of an argument that one rank can get wrong on its own
// (a nil op, a dst of the wrong length, a Histogram not made with
// NewHistogram, a value that does not encode) goes through agreeOn, so that
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

// agreeOn tells every rank whether any rank has a problem, and compares vals
// across the ranks, through agree.Values: ranges[i] is the smallest and the
// largest of vals[i]. problem is what this rank found wrong on its own, nil if
// nothing; its text should name the rank. If some rank has a problem, verdict
// is non-nil on every rank, with the same text: it joins the ranks' problems
// (the first maxProblems of them) and, on a rank with a problem, wraps that
// rank's own. err is a failure of the communication itself, and then nothing
// is agreed.
//
// agree.Values alone would tell a rank with a problem only its own, and the
// others only the lowest failing rank's; reduce promises every rank the same
// text, naming the first few ranks that failed, so the verdict is spelled in
// a second round, taken only when some rank has a problem.
func agreeOn(c mpi.Comm, problem error, vals ...int64) (ranges []agree.Range, verdict, err error) {
	ranges, err = agree.Values(c, problem, vals...)
	var other *agree.RankError
	switch {
	case err == nil:
		return ranges, nil, nil
	case problem != nil && err != problem, problem == nil && !errors.As(err, &other):
		return nil, nil, err
	}
	return spell(c, problem)
}

// spell is agreeOn's verdict when some rank has a problem: rank 0 collects
// the problems' texts and tells everyone.
func spell(c mpi.Comm, problem error) (ranges []agree.Range, verdict, err error) {
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
	return nil, &disagreement{msg: string(msg), err: problem}, nil
}

// maxProblems is the most ranks whose problems a verdict spells out: on a
// thousand ranks with the same mistake, the first few say it all.
const maxProblems = 3

// disagreement is a verdict of agreeOn: the same text on every rank, wrapping
// the rank's own problem where it had one.
type disagreement struct {
	msg string
	err error
}

func (e *disagreement) Error() string { return e.msg }
func (e *disagreement) Unwrap() error { return e.err }
