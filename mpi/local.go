package mpi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/hpcmap/hpcmap/internal/datatype"
)

// Local runs main on n in-process ranks (goroutines) with the same semantics as
// Run, and returns the error of the rank whose failure ended the job (a
// *RankError), or nil when every rank succeeded. When one rank fails or panics,
// the others' contexts are cancelled and their pending and later communication
// fails with ErrAborted, so none is left waiting. A rank that waits for a
// message only ranks that have returned from main could send gets ErrDeadlock
// instead of waiting for ever. For tests, and for running without an MPI
// installation.
func Local(n int, main func(ctx context.Context, world Comm) error) error {
	return runLocal(context.Background(), n, main)
}

func runLocal(parent context.Context, n int, main func(ctx context.Context, world Comm) error) error {
	if n < 1 {
		return fmt.Errorf("mpi: Local needs at least one rank, got %d", n)
	}
	if main == nil {
		return fmt.Errorf("mpi: Local called with a nil main")
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	w := newLocalWorld(n, cancel)
	var wg sync.WaitGroup
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &localComm{w: w, id: "world", rank: r, ranks: w.worldRanks}
			err := callMain(ctx, c, main)
			if err != nil {
				w.fail(err)
			}
			w.returned(r)
		}()
	}
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cause
}

// localWorld is the shared state of Local's ranks: one mailbox per rank and the
// job's abort state.
type localWorld struct {
	host       string
	boxes      []*mailbox
	worldRanks []int
	aborted    chan struct{} // closed on the first failure
	cancel     context.CancelFunc

	mu    sync.Mutex
	cause error         // the failure that ended the job
	done  []bool        // by world rank: main has returned
	exits chan struct{} // closed and replaced whenever a rank's main returns
}

func newLocalWorld(n int, cancel context.CancelFunc) *localWorld {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	w := &localWorld{host: host, aborted: make(chan struct{}), cancel: cancel,
		done: make([]bool, n), exits: make(chan struct{})}
	for r := range n {
		w.boxes = append(w.boxes, newMailbox())
		w.worldRanks = append(w.worldRanks, r)
	}
	return w
}

// fail ends the job: the first cause is kept, every blocked call wakes up.
func (w *localWorld) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cause != nil {
		return
	}
	w.cause = err
	w.cancel() // before waking the others, so that they see a cancelled context
	close(w.aborted)
}

// returned records that world rank r's main has returned, and wakes the ranks
// that may be waiting for a message from it.
func (w *localWorld) returned(r int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done[r] = true
	close(w.exits)
	w.exits = make(chan struct{})
}

// ErrDeadlock is returned by a receive on Local ranks that can never complete:
// every rank that could send the message has returned from main. Under MPI the
// same program would hang; the ranks' calls do not match.
var ErrDeadlock = errors.New("mpi: deadlock")

// message is one point-to-point message in flight between Local ranks.
type message struct {
	ctx  string // communicator context: keeps communicators and collectives apart
	src  int    // sender's rank in that communicator
	tag  int
	data []byte
}

// mailbox holds the messages sent to one rank, in arrival order, which keeps
// MPI's non-overtaking rule between any two ranks.
type mailbox struct {
	mu      sync.Mutex
	msgs    []message
	arrived chan struct{} // closed and replaced whenever a message arrives
}

func newMailbox() *mailbox { return &mailbox{arrived: make(chan struct{})} }

func (b *mailbox) put(m message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	close(b.arrived)
	b.arrived = make(chan struct{})
	b.mu.Unlock()
}

// match returns the first message matching ctx, src and tag, removing it when
// remove is set; without a match, a channel that is closed when the next
// message arrives.
func (b *mailbox) match(ctx string, src, tag int, remove bool) (message, bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, m := range b.msgs {
		if m.ctx == ctx && (src == AnySource || m.src == src) && (tag == AnyTag || m.tag == tag) {
			if remove {
				b.msgs = append(b.msgs[:i], b.msgs[i+1:]...)
			}
			return m, true, nil
		}
	}
	return message{}, false, b.arrived
}

// localComm is one rank's view of a Local communicator.
type localComm struct {
	w      *localWorld
	id     string // context id, the same on every member
	rank   int
	ranks  []int // world rank of each member
	splits int   // Split calls so far; collective, so equal on every member
}

// await returns the first message for c matching ctx, src and tag, removing it
// when remove is set. When block is set, it waits until a match arrives, the
// job is aborted (ErrAborted), or every member that could send one has
// returned from main (ErrDeadlock).
func (c *localComm) await(ctx string, src, tag int, remove, block bool) (message, bool, error) {
	box := c.w.boxes[c.ranks[c.rank]]
	for {
		// Whether the senders are gone is read before the mailbox: a sender
		// puts its messages before it returns, so none can slip between.
		gone, exits := c.sendersGone(src)
		select {
		case <-c.w.aborted:
			return message{}, false, ErrAborted
		default:
		}
		m, ok, arrived := box.match(ctx, src, tag, remove)
		if ok || !block {
			return m, ok, nil
		}
		if gone {
			from := fmt.Sprintf("rank %d", src)
			if src == AnySource {
				from = "any rank"
			}
			what := "a message"
			if ctx == c.collCtx() {
				what = "a collective call's message"
			}
			return message{}, false, fmt.Errorf("%w: rank %d waits for %s from %s, and no rank that could send it is still in main", ErrDeadlock, c.rank, what, from)
		}
		select {
		case <-arrived:
		case <-exits:
		case <-c.w.aborted:
			return message{}, false, ErrAborted
		}
	}
}

// sendersGone reports whether every member of c that could send to c.rank
// from src has returned from main, and a channel that is closed when the next
// rank returns. The receiving rank counts too: another of its goroutines may
// send to it.
func (c *localComm) sendersGone(src int) (bool, <-chan struct{}) {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	for r, world := range c.ranks {
		if (src == AnySource || src == r) && !c.w.done[world] {
			return false, c.w.exits
		}
	}
	return true, c.w.exits
}

func (c *localComm) Rank() int    { return c.rank }
func (c *localComm) Size() int    { return len(c.ranks) }
func (c *localComm) Host() string { return c.w.host }

func (c *localComm) Abort(code int) {
	c.w.fail(&RankError{Rank: c.rank, Host: c.w.host, Err: fmt.Errorf("%w with code %d", ErrAborted, code)})
	runtime.Goexit()
}

func (c *localComm) send(ctx string, dst, tag int, data []byte) error {
	select {
	case <-c.w.aborted:
		return ErrAborted
	default:
	}
	c.w.boxes[c.ranks[dst]].put(message{ctx: ctx, src: c.rank, tag: tag, data: append([]byte(nil), data...)})
	return nil
}

func (c *localComm) recv(ctx string, src, tag int) ([]byte, Status, error) {
	m, _, err := c.await(ctx, src, tag, true, true)
	if err != nil {
		return nil, Status{}, err
	}
	return m.data, Status{Source: m.src, Tag: m.tag, Count: len(m.data)}, nil
}

func (c *localComm) Send(dst, tag int, data []byte) error {
	if err := checkRank("Send", c, dst, false); err != nil {
		return err
	}
	if err := checkTag("Send", tag, false); err != nil {
		return err
	}
	return c.send(c.id, dst, tag, data)
}

// Local's sends never wait: the message is copied into the mailbox.
func (c *localComm) Isend(dst, tag int, data []byte) (Request, error) {
	if err := c.Send(dst, tag, data); err != nil {
		return nil, err
	}
	return doneRequest{}, nil
}

type doneRequest struct{}

func (doneRequest) Test() (bool, error) { return true, nil }
func (doneRequest) Wait() error         { return nil }

func (c *localComm) Recv(src, tag int) ([]byte, Status, error) {
	if err := checkRecv("Recv", c, src, tag); err != nil {
		return nil, Status{}, err
	}
	return c.recv(c.id, src, tag)
}

func (c *localComm) TryRecv(dst []byte, src, tag int) ([]byte, Status, bool, error) {
	if err := checkRecv("TryRecv", c, src, tag); err != nil {
		return nil, Status{}, false, err
	}
	m, ok, err := c.await(c.id, src, tag, true, false)
	if err != nil || !ok {
		return nil, Status{}, false, err
	}
	return append(dst[:0], m.data...), Status{Source: m.src, Tag: m.tag, Count: len(m.data)}, true, nil
}

func (c *localComm) Probe(src, tag int) (Status, error) {
	st, _, err := c.probe("Probe", src, tag, true)
	return st, err
}

func (c *localComm) Iprobe(src, tag int) (Status, bool, error) {
	return c.probe("Iprobe", src, tag, false)
}

func (c *localComm) probe(op string, src, tag int, block bool) (Status, bool, error) {
	if err := checkRecv(op, c, src, tag); err != nil {
		return Status{}, false, err
	}
	m, ok, err := c.await(c.id, src, tag, false, block)
	if err != nil || !ok {
		return Status{}, false, err
	}
	return Status{Source: m.src, Tag: m.tag, Count: len(m.data)}, true, nil
}

func checkRecv(op string, c Comm, src, tag int) error {
	if err := checkRank(op, c, src, true); err != nil {
		return err
	}
	return checkTag(op, tag, true)
}

// Collectives go through rank 0 of the communicator in a context of their own,
// so they never match user messages. Every member calls them in the same
// order, and messages between two ranks do not overtake, so one tag suffices.

func (c *localComm) collCtx() string { return c.id + "/coll" }

// gatherAll collects every member's data at root (nil elsewhere).
func (c *localComm) gatherAll(root int, data []byte) ([][]byte, error) {
	if c.rank != root {
		return nil, c.send(c.collCtx(), root, 0, data)
	}
	parts := make([][]byte, c.Size())
	for r := range parts {
		if r == root {
			parts[r] = append([]byte(nil), data...)
			continue
		}
		b, _, err := c.recv(c.collCtx(), r, 0)
		if err != nil {
			return nil, err
		}
		parts[r] = b
	}
	return parts, nil
}

// bcastFrom sends root's data to every member.
func (c *localComm) bcastFrom(root int, data []byte) ([]byte, error) {
	if c.rank != root {
		b, _, err := c.recv(c.collCtx(), root, 0)
		return b, err
	}
	for r := range c.Size() {
		if r != root {
			if err := c.send(c.collCtx(), r, 0, data); err != nil {
				return nil, err
			}
		}
	}
	return append([]byte(nil), data...), nil
}

func (c *localComm) Barrier() error {
	if _, err := c.gatherAll(0, nil); err != nil {
		return err
	}
	_, err := c.bcastFrom(0, nil)
	return err
}

func (c *localComm) Bcast(root int, data []byte) ([]byte, error) {
	if err := checkRank("Bcast", c, root, false); err != nil {
		return nil, err
	}
	return c.bcastFrom(root, data)
}

func (c *localComm) Gather(root int, data []byte) ([][]byte, error) {
	if err := checkRank("Gather", c, root, false); err != nil {
		return nil, err
	}
	return c.gatherAll(root, data)
}

func (c *localComm) Scatter(root int, parts [][]byte) ([]byte, error) {
	if err := checkRank("Scatter", c, root, false); err != nil {
		return nil, err
	}
	if c.rank != root {
		b, _, err := c.recv(c.collCtx(), root, 0)
		return b, err
	}
	if len(parts) != c.Size() {
		// Other ranks are already waiting: an argument error here must end the
		// job rather than leave them blocked, as MPI would.
		err := argError("Scatter", "root has %d parts for %d ranks", len(parts), c.Size())
		c.w.fail(&RankError{Rank: c.rank, Host: c.w.host, Err: err})
		return nil, err
	}
	for r, p := range parts {
		if r != root {
			if err := c.send(c.collCtx(), r, 0, p); err != nil {
				return nil, err
			}
		}
	}
	return append([]byte(nil), parts[root]...), nil
}

func (c *localComm) Reduce(root int, dst, src []byte, t Type, op Op) error {
	if err := checkRank("Reduce", c, root, false); err != nil {
		return err
	}
	if err := checkReduce("Reduce", dst, src, t, op, c.rank == root); err != nil {
		return err
	}
	parts, err := c.gatherAll(root, src)
	if err != nil || c.rank != root {
		return err
	}
	return reduceParts(dst, parts, t, op)
}

func (c *localComm) Allreduce(dst, src []byte, t Type, op Op) error {
	if err := checkReduce("Allreduce", dst, src, t, op, true); err != nil {
		return err
	}
	parts, err := c.gatherAll(0, src)
	if err != nil {
		return err
	}
	if c.rank == 0 {
		if err := reduceParts(dst, parts, t, op); err != nil {
			return err
		}
	}
	res, err := c.bcastFrom(0, dst)
	copy(dst, res)
	return err
}

func (c *localComm) Split(color, key int) (Comm, error) {
	c.splits++
	// Every member learns every (color, key) pair, then picks its group.
	mine := []int64{int64(color), int64(key)}
	all, err := AllgatherSlice(c, mine)
	if err != nil {
		return nil, err
	}
	if color < 0 {
		return nil, nil
	}
	type member struct{ key, rank int }
	var group []member
	for r, ck := range all {
		if len(ck) != 2 {
			return nil, argError("Split", "rank %d sent %d values", r, len(ck))
		}
		if int(ck[0]) == color {
			group = append(group, member{int(ck[1]), r})
		}
	}
	slices.SortStableFunc(group, func(a, b member) int { return cmp.Compare(a.key, b.key) }) // ties stay in rank order
	nc := &localComm{w: c.w, id: fmt.Sprintf("%s/%d.%d", c.id, c.splits, color)}
	for i, m := range group {
		if m.rank == c.rank {
			nc.rank = i
		}
		nc.ranks = append(nc.ranks, c.ranks[m.rank])
	}
	return nc, nil
}

// reduceParts combines the ranks' parts in rank order into dst with op.
func reduceParts(dst []byte, parts [][]byte, t Type, op Op) error {
	for r, p := range parts {
		if len(p) != len(dst) {
			return argError("Reduce", "rank %d sent %d bytes, rank 0 expects %d: buffers differ in length across ranks", r, len(p), len(dst))
		}
	}
	datatype.Reduce(dst, parts, t, op)
	return nil
}
