package mpi

// NodeLeader returns, on every rank of c, the lowest rank of c that shares
// this rank's node: the ranks that share memory with it, as
// MPI_Comm_split_type with MPI_COMM_TYPE_SHARED groups them. It is
// collective. Local's ranks, and the one rank of a build without MPI, share
// one node. A Comm that this package did not make (a wrapper of the
// caller's) cannot be asked: each of its ranks is a node of its own, and
// NodeLeader returns at once.
func NodeLeader(c Comm) (int, error) {
	cc, ok := c.(*comm)
	if !ok {
		return c.Rank(), nil
	}
	if t, ok := cc.t.(interface{ nodeLeader() (int, error) }); ok {
		return t.nodeLeader()
	}
	return 0, nil // in one process: one node
}
