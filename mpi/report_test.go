package mpi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

func TestRankLabel(t *testing.T) {
	for _, c := range []struct {
		ranks []int
		hosts []string
		want  string
	}{
		{[]int{3}, []string{"n1"}, "rank 3 on n1"},
		{[]int{0, 1, 2, 5}, []string{"n1", "n2"}, "ranks 0-2, 5 on n1, n2"},
		{[]int{1, 3, 4}, []string{"h"}, "ranks 1, 3-4 on h"},
		{[]int{0, 1, 2, 3, 4, 5}, []string{"a", "b", "c", "d", "e"}, "ranks 0-5 on 5 hosts"},
	} {
		if got := mpi.RankLabel(c.ranks, c.hosts); got != c.want {
			t.Errorf("RankLabel(%v, %v) = %q, want %q", c.ranks, c.hosts, got, c.want)
		}
	}
}

// TestReportFailures has every third rank fail alike, every third succeed,
// and the others fail each in its own way: the shared failure is printed
// once, by its lowest rank, the others by their own ranks.
func TestReportFailures(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r := c.Rank()
		var err error
		switch r % 3 {
		case 0:
			err = &mpi.RankError{Rank: r, Host: c.Host(), Err: errors.New("the same failure")}
		case 2:
			err = fmt.Errorf("failure %d", r)
		}
		var out bytes.Buffer
		failed, rerr := mpi.ReportFailures(c, err, &out)
		if rerr != nil {
			return rerr
		}
		if want := c.Size() - (c.Size()+1)/3; failed != want {
			return fmt.Errorf("rank %d: ReportFailures says %d ranks failed, want %d", r, failed, want)
		}
		var want string
		switch {
		case r == 0:
			var alike []string
			for q := 0; q < c.Size(); q += 3 {
				alike = append(alike, fmt.Sprint(q))
			}
			label := "rank 0"
			if len(alike) > 1 {
				label = "ranks " + strings.Join(alike, ", ")
			}
			want = label + " on " + c.Host() + ": the same failure\n"
		case r%3 == 2:
			want = fmt.Sprintf("rank %d on %s: failure %d\n", r, c.Host(), r)
		}
		if out.String() != want {
			return fmt.Errorf("rank %d printed %q, want %q", r, out.String(), want)
		}
		return nil
	})
}
