package mpi

import "slices"

// NodeLeader returns, on every rank of c, the lowest rank of c that shares
// this rank's node: the ranks that share memory with it, as
// MPI_Comm_split_type with MPI_COMM_TYPE_SHARED groups them. It is
// collective. Local's ranks, and the one rank of a build without MPI, share
// one node. For a Comm that this package did not make, ranks are grouped by
// Host.
func NodeLeader(c Comm) (int, error) {
	if cc, ok := c.(*comm); ok {
		if t, ok := cc.t.(interface{ nodeLeader() (int, error) }); ok {
			return t.nodeLeader()
		}
		return 0, nil // in one process: one node
	}
	hosts, err := AllgatherSlice(c, []byte(c.Host()))
	if err != nil {
		return 0, err
	}
	return slices.IndexFunc(hosts, func(h []byte) bool { return string(h) == c.Host() }), nil
}
