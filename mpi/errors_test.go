package mpi_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

// TestErrorClasses checks that errors carry the same class on every world:
// the argument checks', and MPI's own for buffers that differ in length
// across ranks (rank 0, the root, has the shortest).
func TestErrorClasses(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		n := c.Size()
		same := make([]byte, 24)
		cases := []struct {
			name  string
			err   error
			class error
		}{
			{"Send to a rank past the end", c.Send(n, 0, nil), mpi.ErrRank},
			{"Send to a negative rank", c.Send(-1, 0, nil), mpi.ErrRank},
			{"Recv from a rank past the end", recvErr(c, n, 0), mpi.ErrRank},
			{"Bcast from a root past the end", bcastErr(c, n), mpi.ErrRank},
			{"Send with a negative tag", c.Send(0, -3, nil), mpi.ErrTag},
			{"Probe with a tag over MaxTag", probeErr(c, 0, mpi.MaxTag+1), mpi.ErrTag},
			{"Allreduce of a ragged buffer", c.Allreduce(make([]byte, 3), make([]byte, 3), mpi.Float64, mpi.Sum), mpi.ErrCount},
			{"Allreduce with dst too short", c.Allreduce(make([]byte, 8), make([]byte, 16), mpi.Float64, mpi.Sum), mpi.ErrCount},
			{"Allreduce with a bad op", c.Allreduce(make([]byte, 8), make([]byte, 8), mpi.Float64, mpi.Op(9)), mpi.ErrOp},
			{"Reduce of a bad type", c.Reduce(0, make([]byte, 8), make([]byte, 8), mpi.Type(-1), mpi.Sum), mpi.ErrType},
			{"Allreduce in place", c.Allreduce(same, same, mpi.Float64, mpi.Max), mpi.ErrBuffer},
			{"Allreduce into an overlapping dst", c.Allreduce(same[8:], same[:16], mpi.Float64, mpi.Max), mpi.ErrBuffer},
		}
		var wrong []error // every case that fails, not only the first
		for _, tc := range cases {
			var me *mpi.Error
			if !errors.As(tc.err, &me) || !errors.Is(tc.err, tc.class) || me.Class != tc.class {
				wrong = append(wrong, fmt.Errorf("%s: got %v, want an *mpi.Error of class %v", tc.name, tc.err, tc.class))
				continue
			}
			for _, other := range []error{mpi.ErrTruncate, mpi.ErrRank, mpi.ErrTag, mpi.ErrCount, mpi.ErrBuffer, mpi.ErrType, mpi.ErrOp, mpi.ErrComm, mpi.ErrOther} {
				if other != tc.class && errors.Is(tc.err, other) {
					wrong = append(wrong, fmt.Errorf("%s: %v is also of class %v", tc.name, tc.err, other))
				}
			}
		}
		if n == 1 {
			return errors.Join(wrong...)
		}
		// A communicator of its own: what a failed reduction leaves behind
		// stays there.
		sub, err := c.Split(0, c.Rank())
		if err != nil {
			return errors.Join(append(wrong, err)...)
		}
		elems := 2
		if c.Rank() == 0 {
			elems = 1
		}
		src, dst := make([]float64, elems), make([]float64, elems)
		err = sub.Reduce(0, mpi.Bytes(dst), mpi.Bytes(src), mpi.Float64, mpi.Sum)
		if c.Rank() == 0 && !errors.Is(err, mpi.ErrTruncate) {
			wrong = append(wrong, fmt.Errorf("Reduce into a root buffer shorter than the others': got %v, want ErrTruncate", err))
		}
		return errors.Join(wrong...)
	})
}

func recvErr(c mpi.Comm, src, tag int) error {
	_, _, err := c.Recv(src, tag)
	return err
}

func bcastErr(c mpi.Comm, root int) error {
	_, err := c.Bcast(root, nil)
	return err
}

func probeErr(c mpi.Comm, src, tag int) error {
	_, err := c.Probe(src, tag)
	return err
}
