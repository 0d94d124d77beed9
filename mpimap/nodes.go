package mpimap

import (
	"fmt"
	"os"
	"strconv"

	"github.com/hpcmap/hpcmap/mpi"
)

// layout is how the ranks of a map are grouped into nodes, and so who deals
// to whom: rank 0 to the other ranks of its node and to the leader (lowest
// rank) of every other node, which deals on to the ranks of its own. With one
// rank per node, or one node, every rank reports to rank 0: flat dealing.
type layout struct {
	leaderOf []int // by rank: the leader of its node
}

// nodeSizeVar names the environment variable that groups consecutive ranks
// into nodes of its size, in place of the machine's own grouping: to try the
// tree on one machine, or to shape it on a cluster.
const nodeSizeVar = "HPCMAP_NODE_SIZE"

// nodeSize is HPCMAP_NODE_SIZE, 0 if unset.
func nodeSize() (int, error) {
	v := os.Getenv(nodeSizeVar)
	if v == "" {
		return 0, nil
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < 1 {
		return 0, fmt.Errorf("mpimap: %s=%q: want a whole number of ranks per node, at least 1", nodeSizeVar, v)
	}
	return k, nil
}

// nodeLayout groups the np ranks of c by node: by k consecutive ranks when k
// (HPCMAP_NODE_SIZE) is set, else by shared memory. It is collective unless
// k is set or np is 1.
func nodeLayout(c mpi.Comm, np, k int) (layout, error) {
	l := layout{leaderOf: make([]int, np)}
	switch {
	case k > 0:
		for r := range np {
			l.leaderOf[r] = r / k * k
		}
	case np > 1:
		leader, err := mpi.NodeLeader(c)
		if err != nil {
			return l, fmt.Errorf("mpimap: grouping the ranks by node: %w", err)
		}
		all, err := mpi.AllgatherSlice(c, []int64{int64(leader)})
		if err != nil {
			return l, fmt.Errorf("mpimap: grouping the ranks by node: %w", err)
		}
		for r, v := range all {
			if len(v) != 1 || v[0] < 0 || v[0] > int64(r) {
				return l, fmt.Errorf("mpimap: grouping the ranks by node: rank %d names rank %v as its node's lowest", r, v)
			}
			l.leaderOf[r] = int(v[0])
		}
	}
	return l, nil
}

// dealerOf is the rank that deals rank's tasks: 0 for the ranks of rank 0's
// node and for leaders, else the rank's leader.
func (l layout) dealerOf(rank int) int {
	if lead := l.leaderOf[rank]; lead != rank {
		return lead
	}
	return 0
}

// members are the ranks of the node that leader leads, leader first.
func (l layout) members(leader int) []int {
	var m []int
	for r, lead := range l.leaderOf {
		if lead == leader {
			m = append(m, r)
		}
	}
	return m
}

// leads reports whether rank, not 0, deals to other ranks of its node.
func (l layout) leads(rank int) bool {
	return rank != 0 && l.leaderOf[rank] == rank && len(l.members(rank)) > 1
}

// reportingTo are the ranks that report to rank 0's dealer, in rank order:
// the others of its node and every other node's leader, and rank 0 itself if
// it computes.
func (l layout) reportingTo(self bool) []int {
	var out []int
	if self {
		out = append(out, 0)
	}
	for r := 1; r < len(l.leaderOf); r++ {
		if l.dealerOf(r) == 0 {
			out = append(out, r)
		}
	}
	return out
}
