package mpimap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/mpimap"
)

// journaled runs Map over args with fn, journaled at path with key, on every
// rank of c.
func journaled[T, R any](ctx context.Context, c mpi.Comm, path string, args []T, fn func(context.Context, T) (R, error), key ...string) ([]R, error) {
	return mpimap.Map(ctx, c, args, fn, mpimap.WithJournal(path, key...), mpimap.WithSchedule(mpimap.Dynamic))
}

// journalPath is a journal's path that every rank of a world agrees on.
func journalPath(t *testing.T, name string) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("hpcmap-%s-%d.j", name, os.Getpid()))
}

// TestJournalKey: what shapes the results beyond the arguments goes in the
// key, and a journal written with another key is refused on every rank,
// saying both keys; the same key resumes.
func TestJournalKey(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2}, func(ctx context.Context, c mpi.Comm) error {
		path := journalPath(t, fmt.Sprintf("key-%d", c.Size()))
		if c.Rank() == 0 {
			os.Remove(path)
			defer os.Remove(path)
		}
		power := func(p int) func(context.Context, int) (int, error) {
			return func(_ context.Context, i int) (int, error) {
				r := 1
				for range p {
					r *= i
				}
				return r, nil
			}
		}
		if _, err := journaled(ctx, c, path, indices(20), power(2), "power=2"); err != nil {
			return err
		}
		_, err := journaled(ctx, c, path, indices(20), power(3), "power=3")
		if err == nil || c.Rank() == 0 && !strings.Contains(err.Error(), `its key is ["power=2"], this map's is ["power=3"]`) {
			return fmt.Errorf("another key: %v", err)
		}
		// No key is a key too: the empty one.
		if _, err := journaled(ctx, c, path, indices(20), power(3)); err == nil {
			return fmt.Errorf("no key resumed a journal of key power=2")
		}
		got, err := journaled(ctx, c, path, indices(20), power(2), "power=2")
		if err != nil {
			return err
		}
		if c.Rank() == 0 && got[7] != 49 {
			return fmt.Errorf("resumed with the same key: result 7 is %d", got[7])
		}
		return nil
	})
}

// TestJournalResultLayout: two result types of one name whose fields
// differ in order would decode each other's bytes wrongly: the journal of one
// is refused by a map of the other.
func TestJournalResultLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	err := mpi.Local(1, func(ctx context.Context, c mpi.Comm) error {
		{
			type Res struct{ Mean, Err float64 }
			if _, err := journaled(ctx, c, path, indices(4), func(_ context.Context, i int) (Res, error) {
				return Res{Mean: 0.5, Err: 100}, nil
			}); err != nil {
				return err
			}
		}
		type Res struct{ Err, Mean float64 }
		got, err := journaled(ctx, c, path, indices(4), func(_ context.Context, i int) (Res, error) {
			return Res{Err: 100, Mean: 0.5}, nil
		})
		if err == nil || !strings.Contains(err.Error(), "its results are") ||
			!strings.Contains(err.Error(), "struct{Mean float64; Err float64}") ||
			!strings.Contains(err.Error(), "struct{Err float64; Mean float64}") {
			return fmt.Errorf("a journal of results with their fields swapped: %v, results %+v", err, got)

		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestJournalArgsWithMaps: arguments that hold maps resume, whatever order
// their maps iterate in, and other contents are refused.
func TestJournalArgsWithMaps(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2}, func(ctx context.Context, c mpi.Comm) error {
		path := journalPath(t, fmt.Sprintf("maps-%d", c.Size()))
		if c.Rank() == 0 {
			os.Remove(path)
			defer os.Remove(path)
		}
		args := func(scale int) []map[string]int {
			var a []map[string]int
			for i := range 4 {
				m := map[string]int{}
				for k := range 20 {
					m[fmt.Sprint("k", k)] = scale * (i + k)
				}
				a = append(a, m)
			}
			return a
		}
		sum := func(_ context.Context, m map[string]int) (int, error) {
			s := 0
			for _, v := range m {
				s += v
			}
			return s, nil
		}
		for run := range 3 {
			got, err := journaled(ctx, c, path, args(1), sum)
			if err != nil {
				return fmt.Errorf("run %d: %v", run, err)
			}
			if c.Rank() == 0 && !slices.Equal(got, []int{190, 210, 230, 250}) {
				return fmt.Errorf("run %d: %v", run, got)
			}
		}
		if _, err := journaled(ctx, c, path, args(2), sum); err == nil || c.Rank() == 0 && !strings.Contains(err.Error(), "other arguments") {
			return fmt.Errorf("maps of other contents: %v", err)
		}
		return nil
	})
}
