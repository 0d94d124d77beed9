//go:build (mpi || mpich || mpicc) && !(mpi && mpich) && !(mpi && mpicc) && !(mpich && mpicc)

package mpi_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

// TestSplitMessages lowers the size from which messages travel as a derived
// type (normally 1 GiB, so that counts stay within MPI's int) to 7 bytes, and
// checks that such messages arrive whole, remainder included.
func TestSplitMessages(t *testing.T) {
	mpi.SetMessageBlock(7)
	defer mpi.SetMessageBlock(1 << 30)
	mpitest.Worlds(t, nil, func(ctx context.Context, c mpi.Comm) error {
		for _, size := range []int{0, 6, 7, 8, 50, 1000} {
			msg := bytes.Repeat([]byte("abcdefghijk"), size/11+1)[:size]
			got, err := c.Bcast(0, msg)
			if err != nil || !bytes.Equal(got, msg) {
				return fmt.Errorf("Bcast of %d bytes: got %d bytes, %v", size, len(got), err)
			}
			if c.Size() < 2 {
				continue
			}
			switch c.Rank() {
			case 1:
				if err := c.Send(0, 4, msg); err != nil {
					return err
				}
			case 0:
				st, err := c.Probe(1, 4)
				if err != nil || st.Count != size {
					return fmt.Errorf("Probe of %d bytes: %+v, %v", size, st, err)
				}
				got, _, err := c.Recv(mpi.AnySource, 4)
				if err != nil || !bytes.Equal(got, msg) {
					return fmt.Errorf("Recv of %d bytes: got %d bytes, %v", size, len(got), err)
				}
			}
		}
		return nil
	})
}
