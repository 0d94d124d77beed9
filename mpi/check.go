package mpi

import (
	"math"
	"unsafe"
)

// comm is every Comm that Run and Local hand out: it checks the arguments of
// each call, the same way for every world, and passes the call on to the
// world's transport, as database/sql sits over its drivers.
type comm struct {
	t          transport
	rank, size int
	host       string
	claim      *claimState // shared with the claimant's handle
	claimant   bool        // the claimant's handle: never refused
}

// transport is one world's implementation of Comm's calls (the system MPI's,
// or Local's in-process ranks'). Its methods see arguments that comm has
// checked: ranks and tags in range (AnySource and AnyTag only where Comm
// allows them), buffers that hold whole elements of valid types.
type transport interface {
	place() (rank, size int, host string)
	send(dst, tag int, data []byte) error
	isend(dst, tag int, data []byte) (Request, error)
	// recv receives a matching message into dst's memory when it fits,
	// else into a new slice; without block, ok says whether there was one.
	recv(dst []byte, src, tag int, block bool) (data []byte, st Status, ok bool, err error)
	probe(src, tag int, block bool) (st Status, ok bool, err error)
	barrier() error
	bcast(root int, data []byte) ([]byte, error)
	gather(root int, data []byte) ([][]byte, error)
	// scatter's parts, on root, have one element per rank.
	scatter(root int, parts [][]byte) ([]byte, error)
	// reduce's dst, on root, has src's length; allreduce's everywhere.
	reduce(root int, dst, src []byte, t Type, op Op) error
	allreduce(dst, src []byte, t Type, op Op) error
	split(color, key int) (transport, error) // nil for a negative color
	abort(code int)
	// stranded handles err, found on the root of a collective that the
	// other ranks may already be waiting in: the job cannot go on.
	stranded(err error) error
}

func newComm(t transport) *comm {
	c := &comm{t: t, claim: &claimState{}}
	c.rank, c.size, c.host = t.place()
	return c
}

func (c *comm) Rank() int      { return c.rank }
func (c *comm) Size() int      { return c.size }
func (c *comm) Host() string   { return c.host }
func (c *comm) Abort(code int) { c.t.abort(code) }

func (c *comm) Barrier() error {
	if err := c.checkFree("Barrier"); err != nil {
		return err
	}
	return c.t.barrier()
}

func (c *comm) Send(dst, tag int, data []byte) error {
	if err := c.checkSend("Send", dst, tag); err != nil {
		return err
	}
	return c.t.send(dst, tag, data)
}

func (c *comm) Isend(dst, tag int, data []byte) (Request, error) {
	if err := c.checkSend("Isend", dst, tag); err != nil {
		return nil, err
	}
	return c.t.isend(dst, tag, data)
}

func (c *comm) Recv(src, tag int) ([]byte, Status, error) {
	if err := c.checkRecv("Recv", src, tag); err != nil {
		return nil, Status{}, err
	}
	b, st, _, err := c.t.recv(nil, src, tag, true)
	return b, st, err
}

func (c *comm) TryRecv(dst []byte, src, tag int) ([]byte, Status, bool, error) {
	if err := c.checkRecv("TryRecv", src, tag); err != nil {
		return nil, Status{}, false, err
	}
	return c.t.recv(dst, src, tag, false)
}

func (c *comm) Probe(src, tag int) (Status, error) {
	if err := c.checkRecv("Probe", src, tag); err != nil {
		return Status{}, err
	}
	st, _, err := c.t.probe(src, tag, true)
	return st, err
}

func (c *comm) Iprobe(src, tag int) (Status, bool, error) {
	if err := c.checkRecv("Iprobe", src, tag); err != nil {
		return Status{}, false, err
	}
	return c.t.probe(src, tag, false)
}

func (c *comm) Bcast(root int, data []byte) ([]byte, error) {
	if err := c.checkCollective("Bcast", root); err != nil {
		return nil, err
	}
	return c.t.bcast(root, data)
}

func (c *comm) Gather(root int, data []byte) ([][]byte, error) {
	if err := c.checkCollective("Gather", root); err != nil {
		return nil, err
	}
	if len(data) > math.MaxInt32 {
		return nil, argError(ErrCount, "Gather", "%d bytes exceed MPI's 2 GiB limit for this collective", len(data))
	}
	return c.t.gather(root, data)
}

func (c *comm) Scatter(root int, parts [][]byte) ([]byte, error) {
	if err := c.checkCollective("Scatter", root); err != nil {
		return nil, err
	}
	if c.rank == root && len(parts) != c.size {
		return nil, c.t.stranded(argError(ErrCount, "Scatter", "root has %d parts for %d ranks", len(parts), c.size))
	}
	return c.t.scatter(root, parts)
}

func (c *comm) Reduce(root int, dst, src []byte, t Type, op Op) error {
	if err := c.checkCollective("Reduce", root); err != nil {
		return err
	}
	if err := checkReduce("Reduce", dst, src, t, op, c.rank == root); err != nil {
		return err
	}
	if c.rank != root {
		dst = nil
	}
	return c.t.reduce(root, dst, src, t, op)
}

func (c *comm) Allreduce(dst, src []byte, t Type, op Op) error {
	if err := c.checkFree("Allreduce"); err != nil {
		return err
	}
	if err := checkReduce("Allreduce", dst, src, t, op, true); err != nil {
		return err
	}
	return c.t.allreduce(dst, src, t, op)
}

func (c *comm) Split(color, key int) (Comm, error) {
	if err := c.checkFree("Split"); err != nil {
		return nil, err
	}
	t, err := c.t.split(color, key)
	if err != nil || t == nil {
		return nil, err // a nil Comm for a negative color
	}
	return newComm(t), nil
}

func (c *comm) checkSend(op string, dst, tag int) error {
	if err := c.checkRank(op, dst, false); err != nil {
		return err
	}
	if tag >= ReservedTag {
		if err := c.checkFree(op); err != nil {
			return err
		}
	}
	return checkTag(op, tag, false)
}

func (c *comm) checkRecv(op string, src, tag int) error {
	if err := c.checkRank(op, src, true); err != nil {
		return err
	}
	if tag == AnyTag || tag >= ReservedTag {
		if err := c.checkFree(op); err != nil {
			return err
		}
	}
	return checkTag(op, tag, true)
}

func (c *comm) checkCollective(op string, root int) error {
	if err := c.checkFree(op); err != nil {
		return err
	}
	return c.checkRank(op, root, false)
}

func (c *comm) checkRank(op string, r int, wildcard bool) error {
	if wildcard && r == AnySource {
		return nil
	}
	if r < 0 || r >= c.size {
		return argError(ErrRank, op, "rank %d out of range [0,%d)", r, c.size)
	}
	return nil
}

func checkTag(op string, tag int, wildcard bool) error {
	if wildcard && tag == AnyTag {
		return nil
	}
	if tag < 0 || tag > MaxTag {
		return argError(ErrTag, op, "tag %d out of range [0,%d]", tag, MaxTag)
	}
	return nil
}

// checkReduce checks a typed reduction's buffers; dst only where needDst.
func checkReduce(op string, dst, src []byte, t Type, o Op, needDst bool) error {
	switch {
	case !t.Valid():
		return argError(ErrType, op, "invalid element type %v", t)
	case !o.Valid():
		return argError(ErrOp, op, "invalid operation %v", o)
	case len(src)%t.Size() != 0:
		return argError(ErrCount, op, "buffer of %d bytes is not a whole number of %v", len(src), t)
	case len(src)/t.Size() > math.MaxInt32:
		return argError(ErrCount, op, "%d elements exceed MPI's int count", len(src)/t.Size())
	case needDst && len(dst) != len(src):
		return argError(ErrCount, op, "dst has %d bytes, src %d", len(dst), len(src))
	case needDst && overlap(dst, src):
		return argError(ErrBuffer, op, "dst and src share memory, which MPI forbids: reduce into a buffer of its own")
	}
	return nil
}

// overlap reports whether a and b share memory.
func overlap(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}
