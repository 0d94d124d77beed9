package mpi_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

// Every rank of a job on one machine shares rank 0's node, on a world and on
// a split of it; each rank of a Comm of the caller's own is a node.
func TestNodeLeader(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		if leader, err := mpi.NodeLeader(c); err != nil || leader != 0 {
			return fmt.Errorf("NodeLeader = %d, %v; want 0 on one machine", leader, err)
		}
		sub, err := c.Split(c.Rank()%2, 0)
		if err != nil {
			return err
		}
		if leader, err := mpi.NodeLeader(sub); err != nil || leader != 0 {
			return fmt.Errorf("on a split: NodeLeader = %d, %v; want 0", leader, err)
		}
		if leader, err := mpi.NodeLeader(wrapper{c}); err != nil || leader != c.Rank() {
			return fmt.Errorf("on a wrapper: NodeLeader = %d, %v; want the rank itself", leader, err)
		}
		return nil
	})
}

// wrapper is a Comm of the caller's own.
type wrapper struct{ mpi.Comm }
