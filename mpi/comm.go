package mpi

// Comm is a communicator: ranks 0..Size()-1 that exchange messages and take part
// in collectives. Implementations: the system MPI (build tag mpi or mpich), the
// single-process world of a build without MPI, and Local's in-process ranks.
//
// Messages are byte slices; typed helpers (SendSlice, BcastSlice, ...) and the
// reduce package build on them. Collectives must be called by every rank of the
// communicator in the same order, as in MPI. A Comm is safe for use by several
// goroutines, but calls are serialised: a goroutine blocked in Recv holds up the
// others, so let one goroutine own the communication.
type Comm interface {
	// Rank is this process's rank in the communicator, 0..Size()-1.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// Host is the name of the host this rank runs on.
	Host() string

	// Send sends data to rank dst with a tag in 0..MaxTag. The data may be
	// reused as soon as Send returns. Tags from ReservedTag up are used by
	// mpimap while a Map runs.
	Send(dst, tag int, data []byte) error
	// Isend starts sending data to rank dst and returns at once; data must
	// not change until the Request completes. A rank that must keep receiving
	// while its messages are on their way (messages above MPI's eager limit
	// wait for the receiver) sends this way.
	Isend(dst, tag int, data []byte) (Request, error)
	// Recv receives one message from rank src (or AnySource) with tag (or
	// AnyTag), and tells where it came from in the Status.
	Recv(src, tag int) ([]byte, Status, error)
	// Probe waits for a matching message without receiving it.
	Probe(src, tag int) (Status, error)
	// Iprobe reports whether a matching message is waiting, without blocking.
	Iprobe(src, tag int) (st Status, ok bool, err error)
	// TryRecv receives a matching message if one is waiting, without
	// blocking: Iprobe and Recv in one, for polling loops. The message goes
	// into dst's memory when it fits (data is then dst[:len]), so that a loop
	// can reuse one buffer.
	TryRecv(dst []byte, src, tag int) (data []byte, st Status, ok bool, err error)

	// Barrier returns once every rank has called it.
	Barrier() error
	// Bcast returns root's data on every rank; other ranks' data is ignored.
	Bcast(root int, data []byte) ([]byte, error)
	// Gather collects every rank's data, of any length, on root in rank
	// order; other ranks get nil.
	Gather(root int, data []byte) ([][]byte, error)
	// Scatter sends parts[r] from root to rank r; parts is read on root only
	// and must have Size() elements there.
	Scatter(root int, parts [][]byte) ([]byte, error)
	// Reduce combines src (count elements of type t, native byte order) from
	// every rank with op into dst on root. dst is unused elsewhere and may be nil.
	Reduce(root int, dst, src []byte, t Type, op Op) error
	// Allreduce is Reduce with the result in dst on every rank.
	Allreduce(dst, src []byte, t Type, op Op) error

	// Split partitions the ranks by color into new communicators, ordered by
	// key then by rank. A negative color gives a nil Comm (MPI_UNDEFINED).
	Split(color, key int) (Comm, error)
	// Abort ends every rank of the job with exit code code. It does not return.
	Abort(code int)
}

// Request is a send under way.
type Request interface {
	// Test reports whether the send has completed, without blocking.
	Test() (done bool, err error)
	// Wait blocks until the send has completed.
	Wait() error
}

// Wildcards for Recv and Probe. They are not MPI's own values (which differ
// between implementations): the bindings translate them.
const (
	AnySource = -1
	AnyTag    = -1
)

// MaxTag is the largest tag: the least upper bound (MPI_TAG_UB) that every MPI
// implementation must allow.
const MaxTag = 32767

// ReservedTag is the first tag used internally by the libraries of this module
// (mpimap). Programs should not receive with AnyTag while a Map is running.
const ReservedTag = 32700

// Status describes a received or probed message.
type Status struct {
	Source int // sending rank
	Tag    int // message tag
	Count  int // length in bytes
}
