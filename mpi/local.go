package mpi

import (
	"context"
	"fmt"
	"os"
	"sync"
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
			c := newComm(&localComm{w: w, id: "world", rank: r, ranks: w.worldRanks})
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
