package mpi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestLocalFailureWakesTheOthers(t *testing.T) {
	boom := errors.New("boom")
	err := mpi.Local(4, func(ctx context.Context, c mpi.Comm) error {
		if c.Rank() == 2 {
			time.Sleep(10 * time.Millisecond) // let the others block first
			return boom
		}
		// The others wait for a message that never comes.
		_, _, err := c.Recv(mpi.AnySource, 1)
		if !errors.Is(err, mpi.ErrAborted) {
			t.Errorf("rank %d: Recv returned %v, want ErrAborted", c.Rank(), err)
		}
		if ctx.Err() == nil {
			t.Errorf("rank %d: context not cancelled after the job failed", c.Rank())
		}
		return err
	})
	var re *mpi.RankError
	if !errors.As(err, &re) || re.Rank != 2 || !errors.Is(err, boom) {
		t.Fatalf("Local returned %v, want rank 2's error", err)
	}
	if !strings.HasPrefix(err.Error(), "rank 2 on ") {
		t.Errorf("error text %q does not name the rank and host", err)
	}
}

func TestLocalPanicAndAbort(t *testing.T) {
	err := mpi.Local(3, func(ctx context.Context, c mpi.Comm) error {
		if c.Rank() == 1 {
			var m map[string]int
			m["x"]++ // a nil-map panic inside a rank
		}
		return c.Barrier()
	})
	var re *mpi.RankError
	if !errors.As(err, &re) || !re.Panic || re.Rank != 1 || !strings.Contains(err.Error(), "nil map") {
		t.Fatalf("got %v, want a panic of rank 1", err)
	}

	err = mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
		if c.Rank() == 0 {
			c.Abort(7)
			t.Error("Abort returned")
		}
		_, _, err := c.Recv(0, 0)
		return err
	})
	if !errors.As(err, &re) || re.Rank != 0 || !strings.Contains(err.Error(), "code 7") {
		t.Fatalf("got %v, want rank 0's abort with code 7", err)
	}
}

func TestLocalBadArguments(t *testing.T) {
	if err := mpi.Local(0, func(context.Context, mpi.Comm) error { return nil }); err == nil {
		t.Error("Local(0) succeeded")
	}
	if err := mpi.Local(1, nil); err == nil {
		t.Error("Local with a nil main succeeded")
	}
}
