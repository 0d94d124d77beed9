package agree_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/hpcmap/hpcmap/internal/agree"
	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

func TestMain(m *testing.M) { mpitest.Main(m) }

var sizes = []int{1, 2, 3, 4}

func TestErrorsNone(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		for range 3 { // in step, call after call
			if err := agree.Errors(c, nil); err != nil {
				return fmt.Errorf("no rank failed, yet: %v", err)
			}
		}
		return nil
	})
}

// TestErrorsSome has the odd ranks fail (or the last rank, at np=1): they
// get their own errors back, the others the lowest failing rank's text.
func TestErrorsSome(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		failing := func(q int) bool { return q%2 == 1 || n == 1 }
		var local error
		if failing(r) {
			local = fmt.Errorf("broken on rank %d", r)
		}
		count, first := 0, -1
		for q := n - 1; q >= 0; q-- {
			if failing(q) {
				count, first = count+1, q
			}
		}
		err := agree.Errors(c, local)
		// Whatever they got, the ranks are still in step: a next call
		// agrees that there is nothing wrong.
		if err := agree.Errors(c, nil); err != nil {
			return fmt.Errorf("the call after the failure: %v", err)
		}
		if local != nil {
			if err != local {
				return fmt.Errorf("a failing rank got %v, want its own error", err)
			}
			return nil
		}
		var re *agree.RankError
		if !errors.As(err, &re) || re.Rank != first || re.Failed != count || re.Msg != fmt.Sprintf("broken on rank %d", first) {
			return fmt.Errorf("got %#v, want a *RankError naming rank %d of %d failed", err, first, count)
		}
		want := fmt.Sprintf("rank %d: broken on rank %d", first, first)
		if count > 1 {
			want = fmt.Sprintf("rank %d (and %d more): broken on rank %d", first, count-1, first)
		}
		if err.Error() != want {
			return fmt.Errorf("text %q, want %q", err, want)
		}
		return nil
	})
}

func TestValues(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := int64(c.Rank()), int64(c.Size())
		ranges, err := agree.Values(c, nil, 42, r*r-5, -r)
		if err != nil {
			return err
		}
		want := []agree.Range{{42, 42}, {-5, (n-1)*(n-1) - 5}, {-(n - 1), 0}}
		if !slices.Equal(ranges, want) {
			return fmt.Errorf("ranges %v, want %v", ranges, want)
		}
		if !ranges[0].Same() || ranges[1].Same() != (n == 1) {
			return fmt.Errorf("Same: %v %v", ranges[0].Same(), ranges[1].Same())
		}
		// The extremes of int64 survive the negation.
		ranges, err = agree.Values(c, nil, -1<<63+1, 1<<63-1)
		if err != nil || ranges[0] != (agree.Range{-1<<63 + 1, -1<<63 + 1}) || ranges[1] != (agree.Range{1<<63 - 1, 1<<63 - 1}) {
			return fmt.Errorf("extremes: %v, %v", ranges, err)
		}
		// A failure on the last rank wins over the values.
		var local error
		if r == n-1 {
			local = errors.New("cannot")
		}
		ranges, err = agree.Values(c, local, r)
		if ranges != nil || err == nil {
			return fmt.Errorf("with rank %d failing: ranges %v, error %v", n-1, ranges, err)
		}
		return nil
	})
}

// TestAlike has every third rank fail alike, every third succeed, and the
// others fail each in its own way.
func TestAlike(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3, 4, 7}, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		msg := func(q int) string {
			switch q % 3 {
			case 0:
				return "the same failure"
			case 2:
				return fmt.Sprintf("failure %d", q)
			}
			return "" // no failure
		}
		var local error
		if msg(r) != "" {
			local = errors.New(msg(r))
		}
		tally, err := agree.Alike(c, local, fmt.Sprint("note ", r))
		if err != nil {
			return err
		}
		var failed int
		var alike []int
		var notes []string
		for q := range n {
			if msg(q) != "" {
				failed++
			}
			if msg(r) != "" && msg(q) == msg(r) {
				alike = append(alike, q)
				notes = append(notes, fmt.Sprint("note ", q))
			}
		}
		if tally.Failed != failed || !slices.Equal(tally.Alike, alike) || !slices.Equal(tally.Notes, notes) {
			return fmt.Errorf("tally %+v, want %d failed, alike %v with notes %v", tally, failed, alike, notes)
		}
		return nil
	})
}
