package mpimap

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hpcmap/hpcmap/mpi"
)

// The drivers are the only code of a map that communicates: each owns the
// communicator for its rank, receives and decodes messages, feeds them to
// the dealer and worker state machines, and encodes and sends what those
// give out. Rank 0 drives the dealer and, when it computes, its own worker,
// which it connects to the dealer directly; every other rank drives a worker.

// root runs rank 0's part of the map and returns its error.
func (m *mapper[R]) root(ctx context.Context, g *gather[R]) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var workers []int
	if m.computes(0) {
		workers = append(workers, 0)
	}
	for r := 1; r < m.np; r++ {
		workers = append(workers, r)
	}
	d := newDealer(g, m.cfg, m.n, m.np, m.journaled, workers, m.skip)
	var (
		own  *worker[R]
		pool *pool[R]
	)
	m.run.stopped.Store(ctx.Err() != nil) // no task starts in a map cancelled before it began
	if m.computes(0) {
		pool = newPool(runCtx, m.run, m.cfg.workers, m.cfg.schedule.dealt(), m.skip)
		defer pool.close()
		own = m.newWorker(poolExec[R]{pool, cancel}, m.cfg.workers)
	}
	out := outbox{comm: m.comm, tag: tagToWorker, load: &m.load}
	g.parts = m.partsIn()
	// deliver sends orders, rank 0's own to its worker directly.
	deliver := func(now time.Time, envs []envelope) error {
		for i := range envs {
			if e := &envs[i]; e.to == 0 {
				if err := own.receive(now, &e.o); err != nil {
					return err
				}
			} else if err := out.send(e.to, appendOrder(nil, m.seq, &e.o)); err != nil {
				return err
			}
		}
		return nil
	}
	err := m.deal(ctx, d, own, pool, &out, deliver)
	err = errors.Join(err, g.mon.close(d.settled, len(d.fails)))
	if g.journal != nil {
		err = errors.Join(err, g.journal.close())
	}
	if err != nil {
		m.abort(&out, err)
		return err
	}
	o := d.outcome()
	for r := 1; r < m.np; r++ {
		if err := out.send(r, appendOrder(nil, m.seq, &o)); err != nil {
			return err
		}
	}
	err = mapError(o.fails, d.own, o.outcome, ctx.Err())
	if g.sinkErr != nil {
		err = errors.Join(g.sinkErr, err)
	}
	// Joined only on failure: the map's own error must stay the flat list of
	// TaskErrors that callers unwrap.
	if ferr := out.flush(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	return err
}

// deal is rank 0's loop: reports in, orders out, until the map is over.
func (m *mapper[R]) deal(ctx context.Context, d *dealer[R], own *worker[R], pool *pool[R],
	out *outbox, deliver func(time.Time, []envelope) error) error {
	var idle idler[R]
	for {
		progress := false
		now := time.Now()
		// Reports from the other ranks. At most one per rank per round, so
		// that a busy stream of them cannot keep rank 0 from its own pieces
		// or from seeing a cancellation.
		for range m.np - 1 {
			body, src, ok, err := m.receive(mpi.AnySource, tagToDealer)
			if err != nil || !ok {
				if err != nil {
					return err
				}
				break
			}
			progress = true
			rep, err := readReport[R](body, m.n)
			if err != nil {
				return fmt.Errorf("mpimap: malformed message from rank %d: %w", src, err)
			}
			// Every result is decoded out of the message as it is read, so
			// the buffer serves the next one.
			if err := d.receive(src, &rep); err != nil {
				return err
			}
		}
		if own != nil {
			if fresh := pool.finished(); len(fresh) > 0 {
				own.done(fresh)
				progress = true
			}
			if rep := own.next(now); rep != nil {
				progress = true
				if err := d.receive(0, rep); err != nil {
					return err
				}
			}
		}
		if stopped := ctx.Err() != nil || d.gather.sinkErr != nil; stopped && !d.stopping {
			cause := "rank 0: " + causeOf(ctx)
			if d.gather.sinkErr != nil {
				cause = "rank 0: " + d.gather.sinkErr.Error()
			}
			if err := deliver(now, d.stop(cause)); err != nil {
				return err
			}
		}
		if m.poisoned.Load() {
			return errConcurrent
		}
		if answers := d.answer(); len(answers) > 0 {
			progress = true
			if err := deliver(now, answers); err != nil {
				return err
			}
		}
		if err := out.poll(); err != nil {
			return err
		}
		if j := d.gather.journal; j != nil {
			if err := j.flush(); err != nil {
				return err
			}
		}
		d.gather.mon.tick(d.settled, len(d.fails))
		if d.finished() {
			d.gather.mon.load(0, m.load.load)
			for r, l := range d.loads[1:] {
				d.gather.mon.load(r+1, l)
			}
			return nil
		}
		if progress {
			idle.reset()
		} else {
			idle.wait(pool, watch(ctx, d.stopping), m.np > 1 || d.stopping)
		}
	}
}

// causeOf says why ctx ended.
func causeOf(ctx context.Context) string {
	if ctx.Err() == nil {
		return ""
	}
	return context.Cause(ctx).Error()
}

// abort tells the other ranks that the map failed on rank 0, so that they
// return an error too instead of waiting (best effort: rank 0's
// communication may be what failed).
func (m *mapper[R]) abort(out *outbox, err error) {
	o := order{kind: kindAbort, text: err.Error()}
	msg := appendOrder(nil, m.seq, &o)
	for rank := 1; rank < m.np; rank++ {
		out.send(rank, msg)
	}
	// Not waited for: a rank that failed may have stopped receiving.
	out.abandon()
}

// work runs the part of a rank other than 0: its tasks, reported to rank 0
// as they finish, and then rank 0's word on how the map ended.
func (m *mapper[R]) work(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pool *pool[R]
	workers := 0
	if m.computes(m.rank) {
		workers = m.cfg.workers
	}
	m.run.stopped.Store(ctx.Err() != nil) // no task starts in a map cancelled before it began
	pool = newPool(runCtx, m.run, workers, m.cfg.schedule.dealt(), m.skip)
	defer pool.close()
	w := m.newWorker(poolExec[R]{pool, cancel}, workers)
	out := outbox{comm: m.comm, tag: tagToDealer, load: &m.load}
	err := m.report(ctx, w, pool, &out)
	if err != nil {
		m.tellRoot(err) // before closing the pool, which waits for running tasks
		out.abandon()
		return err
	}
	return m.awaitOutcome(ctx, w.own, &out)
}

// report is a worker rank's loop: orders in, reports out, until the final
// report is sent.
func (m *mapper[R]) report(ctx context.Context, w *worker[R], pool *pool[R], out *outbox) error {
	var idle idler[R]
	for {
		progress := false
		now := time.Now()
		if fresh := pool.finished(); len(fresh) > 0 {
			w.done(fresh)
			progress = true
		}
		if ctx.Err() != nil {
			w.stop(now, causeOf(ctx))
		}
		if m.poisoned.Load() {
			return errConcurrent
		}
		if rep := w.next(now); rep != nil {
			if rep.kind == kindFinal {
				rep.load = m.load.load
				rep.load.messages++ // this one
			}
			// Its own buffer: the send may still be under way.
			msg := appendReport(nil, m.seq, rep, m.codec, m.host)
			for i := range rep.pieces {
				m.run.recycle(rep.pieces[i].vals)
			}
			if err := out.send(0, msg); err != nil {
				return err
			}
			if err := m.sendParts(out, 0, rep); err != nil {
				return err
			}
			if rep.kind == kindFinal {
				return nil
			}
		}
		for {
			body, _, ok, err := m.receive(0, tagToWorker)
			if err != nil || !ok {
				if err != nil {
					return err
				}
				break
			}
			progress = true
			o, err := readOrder(body, m.n)
			if err != nil {
				return fmt.Errorf("mpimap: malformed message from rank 0: %w", err)
			}
			if err := w.receive(now, &o); err != nil {
				return err
			}
		}
		if err := out.poll(); err != nil {
			return err
		}
		if progress {
			idle.reset()
		} else {
			idle.sending(out)
			idle.wait(pool, watch(ctx, w.stopping), true)
		}
	}
}

// newWorker is this rank's worker, running its tasks on exec's workers
// goroutines.
func (m *mapper[R]) newWorker(exec executor, workers int) *worker[R] {
	w := newWorker[R](exec, workers, m.cfg.chunk, m.share(m.rank), m.cfg.retries > 0, m.rank == 0)
	if m.cfg.grace != nil {
		w.grace = *m.cfg.grace
	}
	return w
}

// rootAbort is the error of a map that failed on rank 0, which said so.
type rootAbort struct{ why string }

func (e rootAbort) Error() string { return "mpimap: the map failed on rank 0: " + e.why }

// errUnexpected is the error of an order of a kind that has no place where it
// came.
func errUnexpected(kind byte) error {
	return fmt.Errorf("mpimap: unexpected message kind %d from rank 0", kind)
}

// tellRoot tells rank 0 that the map failed on this rank, so that it ends the
// map on every rank instead of waiting for this one's results. Best effort:
// the communication may be what failed.
func (m *mapper[R]) tellRoot(err error) {
	if _, fromRoot := err.(rootAbort); fromRoot {
		return
	}
	rep := report[R]{kind: kindFailed, cause: err.Error()}
	out := outbox{comm: m.comm, tag: tagToDealer}
	out.send(0, appendReport(nil, m.seq, &rep, m.codec, m.host))
	out.abandon() // small, and rank 0 may be gone: not waited for
}

// awaitOutcome waits for rank 0's word on how the map ended, and turns it
// into this rank's error.
//
// The last reports may still be on their way, each waiting for rank 0 to
// receive it: if the map fails on rank 0 meanwhile, they never will be, and
// waiting for them alone would hang.
func (m *mapper[R]) awaitOutcome(ctx context.Context, own map[int]error, out *outbox) (err error) {
	defer func() {
		if err != nil {
			out.abandon()
		}
	}()
	var idle idler[R]
	for {
		if err := out.poll(); err != nil {
			return err
		}
		body, _, ok, err := m.receive(0, tagToWorker)
		if err != nil {
			return err
		}
		if !ok {
			idle.sending(out)
			idle.wait(nil, nil, true)
			continue
		}
		o, err := readOrder(body, m.n)
		switch {
		case err != nil:
			return fmt.Errorf("mpimap: malformed message from rank 0: %w", err)
		case o.kind == kindAbort:
			return rootAbort{o.text}
		case o.kind == kindOutcome:
			// Rank 0 has had every message of this rank's: the sends end.
			if err := out.flush(); err != nil {
				return err
			}
			return mapError(o.fails, own, o.outcome, ctx.Err())
		}
		// A stop that crossed this rank's last message: nothing to do.
	}
}

// receive takes a message of this map on tag from src (or any source) if
// one is waiting, passing over those of earlier maps, and returns its body
// (after the sequence number) and its source. Its memory is reused by the
// next call.
func (m *mapper[R]) receive(src, tag int) ([]byte, int, bool, error) {
	for {
		msg, st, ok, err := m.comm.TryRecv(m.inbox, src, tag)
		if err != nil || !ok {
			return nil, 0, false, wrap(err)
		}
		m.inbox = msg
		m.load.received(st.Source, m.np)
		if seq, body, valid := sequence(msg); valid && seq == m.seq {
			return body, st.Source, true, nil
		}
	}
}

func wrap(err error) error {
	if err != nil {
		return fmt.Errorf("mpimap: %w", err)
	}
	return nil
}

// poolExec is a rank's pool as its worker's executor: stopping it also
// cancels the tasks' context.
type poolExec[R any] struct {
	p      *pool[R]
	cancel context.CancelFunc
}

func (e poolExec[R]) add(s span) { e.p.add(s) }
func (e poolExec[R]) held() int  { return e.p.held() }
func (e poolExec[R]) abandon()   { e.p.abandon() }
func (e poolExec[R]) stop() {
	e.p.run.stopped.Store(true)
	e.cancel()
	e.p.drop()
}

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
	since time.Time // when the quiet spell began; zero while busy
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
	if poll && quiet < spinFor {
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
