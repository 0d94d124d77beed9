package mpi_test

import (
	"context"
	"errors"
	"fmt"
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
			//lint:ignore SA5000 the panic is what the test is about
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

// TestLocalDeadlock checks that a rank waiting for ranks that have returned
// gets ErrDeadlock naming who waits for whom, rather than hanging.
func TestLocalDeadlock(t *testing.T) {
	for _, tc := range []struct {
		name string
		main func(c mpi.Comm) error
		want string
	}{
		{"Recv from a returned rank", func(c mpi.Comm) error {
			if c.Rank() == 1 {
				_, _, err := c.Recv(0, 5)
				return err
			}
			return nil
		}, "rank 1 waits for a message from rank 0"},
		{"one Barrier too many", func(c mpi.Comm) error {
			calls := 1
			if c.Rank() == 0 {
				calls = 2 // the ranks' calls do not match
			}
			for range calls {
				if err := c.Barrier(); err != nil {
					return err
				}
			}
			return nil
		}, "rank 0 waits for a collective call's message from rank 1"},
		{"in a split communicator", func(c mpi.Comm) error {
			sub, err := c.Split(c.Rank()%2, 0) // {0, 2} and {1, 3}
			if err != nil {
				return err
			}
			if c.Rank() == 3 {
				_, err = sub.Bcast(0, nil) // world rank 1 never sends
			}
			return err
		}, "rank 1 waits for a collective call's message from rank 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mpi.Local(4, func(_ context.Context, c mpi.Comm) error { return tc.main(c) })
			if !errors.Is(err, mpi.ErrDeadlock) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrDeadlock: %s", err, tc.want)
			}
		})
	}
}

// TestLocalNoFalseDeadlock checks the cases that look like a deadlock but are
// not: a message sent just before its sender returned, and one that another
// goroutine of the receiving rank sends to it.
func TestLocalNoFalseDeadlock(t *testing.T) {
	for range 20 {
		err := mpi.Local(3, func(_ context.Context, c mpi.Comm) error {
			switch c.Rank() {
			case 0:
				return c.Send(1, 0, []byte("last words"))
			case 1:
				time.Sleep(time.Millisecond) // usually after rank 0 has returned
				b, _, err := c.Recv(0, 0)
				if err == nil && string(b) != "last words" {
					err = fmt.Errorf("got %q", b)
				}
				return err
			}
			go func() {
				time.Sleep(5 * time.Millisecond) // after ranks 0 and 1 have returned
				c.Send(2, 9, []byte("to myself"))
			}()
			_, st, err := c.Recv(mpi.AnySource, 9)
			if err == nil && st.Source != 2 {
				err = fmt.Errorf("message from rank %d", st.Source)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
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
