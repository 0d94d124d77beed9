package mpimap

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

// loadCount counts the map messages a rank handles and the ranks it
// exchanges them with.
type loadCount struct {
	load
	seen *bitset
}

func (l *loadCount) received(src, np int) { l.note(src, np) }

func (l *loadCount) note(peer, np int) {
	l.messages++
	if l.seen == nil {
		l.seen = newBitset(np)
	}
	if !l.seen.has(peer) {
		l.seen.set(peer)
		l.peers++
	}
}

// outbox sends a rank's messages without waiting for them to be received.
// Rank 0 must never block in a send: a message over MPI's eager limit waits
// for its receiver, who may at that moment be blocked sending its results to
// rank 0 — each waiting for the other. Rank 0 keeps receiving instead, and
// the sends complete. Workers send this way too, to go on running tasks and
// taking chunks while rank 0 is busy.
type outbox struct {
	comm    mpi.Comm
	tag     int
	pending []mpi.Request
	load    *loadCount // counts what is sent, if set
}

// send starts sending msg, which must not change afterwards, to rank dst.
func (o *outbox) send(dst int, msg []byte) error { return o.sendOn(o.tag, dst, msg) }

// sendOn is send on another tag than the outbox's (parts.go).
func (o *outbox) sendOn(tag, dst int, msg []byte) error {
	req, err := o.comm.Isend(dst, tag, msg)
	if err != nil {
		return wrap(err)
	}
	if o.load != nil {
		o.load.note(dst, o.comm.Size())
	}
	o.pending = append(o.pending, req)
	return nil
}

// poll forgets the sends that have completed.
func (o *outbox) poll() error {
	var err error
	o.pending = slices.DeleteFunc(o.pending, func(r mpi.Request) bool {
		done, e := r.Test()
		err = errors.Join(err, e)
		return done || e != nil
	})
	return wrap(err)
}

// flush waits for every send to complete.
func (o *outbox) flush() error {
	var err error
	for _, r := range o.pending {
		err = errors.Join(err, r.Wait())
	}
	o.pending = nil
	return wrap(err)
}

// abandon gives up on the sends under way, of a map that ends without
// waiting for them (it failed, and the receiver may never receive them):
// they are kept until they complete, since a send forgotten while under way
// would leave its memory pinned.
func (o *outbox) abandon() {
	abandoned.mu.Lock()
	abandoned.reqs = append(abandoned.reqs, o.pending...)
	abandoned.mu.Unlock()
	o.pending = nil
}

// abandoned holds the sends of failed maps until they complete.
var abandoned struct {
	mu   sync.Mutex
	reqs []mpi.Request
}

// reapAbandoned forgets the abandoned sends that have completed. Every map
// calls it as it begins, with the communicator to itself.
func reapAbandoned() {
	abandoned.mu.Lock()
	defer abandoned.mu.Unlock()
	abandoned.reqs = slices.DeleteFunc(abandoned.reqs, func(r mpi.Request) bool {
		done, err := r.Test()
		return done || err != nil
	})
}

// idler waits between polls for messages: yielding the processor at first,
// so that a reply is seen within microseconds, then sleeping, and after a
// long quiet spell sleeping longer, so that an idle rank leaves its cores to
// the workers. A piece finishing locally ends the wait at once.
type idler[R any] struct {
	since time.Time     // when the quiet spell began; zero while busy
	spin  time.Duration // how long it only yields: spinFor or spinAlone
	timer *time.Timer
}

func (i *idler[R]) reset() { i.since = time.Time{} }

// sending keeps a rank whose sends are under way at the shortest naps: MPI
// may move a large message on only when its sender calls in (Open MPI's
// shared memory without single-copy does), and a part of many megabytes
// would otherwise creep at a fragment per nap.
func (i *idler[R]) sending(out *outbox) {
	if len(out.pending) > 0 {
		i.reset()
	}
}

const (
	// spinFor is how long a quiet rank only yields: longer than a round trip
	// between ranks, so that a reply on its way is not met by a sleep.
	spinFor = 50 * time.Microsecond
	// spinAlone is how long when the rank's node has a core for each of its
	// ranks, whose spinning takes from no one: a sleep, once every goroutine
	// of the rank waits, can last a millisecond (the runtime's poller waits
	// in whole milliseconds), and a rank bound to one core is then idle for
	// a millisecond of every exchange that goes quiet for a while.
	spinAlone = time.Millisecond
	// napFor is how long it then takes short sleeps before longer ones, and
	// dozeFor before the longest: a rank whose tasks run for seconds polls
	// a hundred times a second, at a cost of about a percent of a core.
	napFor  = 100 * time.Millisecond
	dozeFor = time.Second
)

// wait waits for a finished piece of p (kept for the next p.finished), for
// cancelled to close, or, when poll is set, for the time to poll again.
func (i *idler[R]) wait(p *pool[R], cancelled <-chan struct{}, poll bool) {
	now := time.Now()
	if i.since.IsZero() {
		i.since = now
	}
	quiet := now.Sub(i.since)
	if poll && quiet < max(i.spin, spinFor) {
		runtime.Gosched()
		return
	}
	var tick <-chan time.Time
	if poll {
		// Timers are coarse on many machines: a microsecond asked is tens
		// slept, and anything from ten microseconds about a millisecond.
		d := time.Microsecond
		switch {
		case quiet > dozeFor:
			d = 10 * time.Millisecond
		case quiet > napFor:
			d = time.Millisecond
		}
		if i.timer == nil {
			i.timer = time.NewTimer(d)
		} else {
			i.timer.Reset(d)
		}
		tick = i.timer.C
	}
	var done chan pieceDone[R]
	if p != nil {
		done = p.done
	}
	select {
	case d := <-done:
		p.ready = append(p.ready, d)
		p.outstanding -= d.s.count
	case <-cancelled:
	case <-tick:
	}
}

// watch is the channel to wait on for a cancellation not yet acted on.
func watch(ctx context.Context, stopping bool) <-chan struct{} {
	if stopping {
		return nil
	}
	return ctx.Done()
}
