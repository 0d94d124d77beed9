package mpimap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	d := newDealer(g, m.cfg, m.n, m.np, m.journaled, m.layout.reportingTo(m.computes(0)), m.skip)
	var (
		own  *worker[R]
		pool *pool[R]
	)
	if m.computes(0) {
		var stop func()
		pool, own, stop = m.startPool(ctx, true)
		defer stop()
	}
	out := outbox{comm: m.comm, tag: tagToWorker, load: &m.load}
	g.parts = m.partsIn()
	err := m.deal(ctx, d, g, own, pool, &out)
	err = errors.Join(err, g.mon.close(d.settled, len(d.fails)))
	if g.journal != nil {
		err = errors.Join(err, g.journal.close())
	}
	if err != nil {
		m.abort(&out, d.workers, "the map failed on rank 0: "+err.Error())
		return err
	}
	o := d.outcome()
	m.tell(&out, d.workers, &o)
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
func (m *mapper[R]) deal(ctx context.Context, d *dealer[R], g *gather[R], own *worker[R], pool *pool[R], out *outbox) error {
	idle := idler[R]{spin: m.spin}
	for {
		now := time.Now()
		progress, err := m.takeReports(d.receive, len(d.workers))
		if err != nil {
			return err
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
		if stopped := ctx.Err() != nil || g.sinkErr != nil; stopped && !d.stopping {
			cause := "rank 0: " + causeOf(ctx)
			if g.sinkErr != nil {
				cause = "rank 0: " + g.sinkErr.Error()
			}
			if err := m.deliver(now, out, own, d.stop(cause)); err != nil {
				return err
			}
		}
		if answers := d.answer(); len(answers) > 0 {
			progress = true
			if err := m.deliver(now, out, own, answers); err != nil {
				return err
			}
		}
		if err := out.poll(); err != nil {
			return err
		}
		if g.journal != nil {
			if err := g.journal.flush(); err != nil {
				return err
			}
		}
		g.mon.tick(d.settled, len(d.fails))
		if d.finished() {
			if m.poisoned.Load() {
				return errConcurrent
			}
			d.loads[0] = m.load.load
			for r, l := range d.loads {
				g.mon.load(r, l)
			}
			for _, t := range d.tallies {
				g.mon.tally(t)
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

// takeReports receives the reports waiting from the ranks a dealer serves,
// at most one from each of its n workers this round (so that a busy stream
// of them cannot keep the rank from its own pieces or from seeing a
// cancellation), and hands each to receive.
func (m *mapper[R]) takeReports(receive func(from int, rep *report[R]) error, n int) (progress bool, err error) {
	for range n {
		body, src, ok, err := m.receive(mpi.AnySource, tagToDealer)
		if err != nil || !ok {
			return progress, err
		}
		progress = true
		if err := m.reading.read(body, m.n); err != nil {
			return progress, fmt.Errorf("mpimap: malformed message from rank %d: %w", src, err)
		}
		// Every result is decoded (or, by a leader, copied) out of the
		// message as it is read, and every piece settled, so the buffer and
		// the report serve the next one.
		if err := receive(src, &m.reading); err != nil {
			return progress, err
		}
	}
	return progress, nil
}

// deliver sends orders: this rank's own to its worker directly.
func (m *mapper[R]) deliver(now time.Time, out *outbox, own *worker[R], envs []envelope) error {
	for i := range envs {
		e := &envs[i]
		if m.inputs != nil {
			m.inputs.hand(&e.o, e.to == m.rank)
		}
		if e.to == m.rank {
			if err := own.receive(now, &e.o); err != nil {
				return err
			}
		} else if err := out.send(e.to, appendOrder(nil, m.seq, &e.o)); err != nil {
			return err
		}
	}
	return nil
}

// tell sends o to ranks, but for this one.
func (m *mapper[R]) tell(out *outbox, ranks []int, o *order) {
	msg := appendOrder(nil, m.seq, o)
	for _, r := range ranks {
		if r != m.rank {
			out.send(r, msg)
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

// abort tells ranks that the map failed, so that they return an error too
// instead of waiting (best effort: this rank's communication may be what
// failed).
func (m *mapper[R]) abort(out *outbox, ranks []int, why string) {
	m.tell(out, ranks, &order{kind: kindAbort, text: why})
	// Not waited for: a rank that failed may have stopped receiving.
	out.abandon()
}

// work runs the part of a rank other than 0 that leads no node: its tasks,
// reported to its dealer (rank 0, or its node's leader) as they finish, and
// then the dealer's word on how the map ended.
func (m *mapper[R]) work(ctx context.Context) error {
	pool, w, stop := m.startPool(ctx, false)
	defer stop()
	out := outbox{comm: m.comm, tag: tagToDealer, load: &m.load}
	err := m.report(ctx, w, pool, &out)
	if err != nil {
		m.tellDealer(err) // before closing the pool, which waits for running tasks
		out.abandon()
		return err
	}
	return m.awaitOutcome(ctx, w.own, &out, nil)
}

// report is a worker rank's loop: orders in, reports out, until the final
// report is sent.
func (m *mapper[R]) report(ctx context.Context, w *worker[R], pool *pool[R], out *outbox) error {
	idle := idler[R]{spin: m.spin}
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
		if rep := w.next(now); rep != nil {
			if final, err := m.sendReport(out, rep); final || err != nil {
				return err
			}
		}
		got, err := m.takeOrders(now, w.receive)
		if err != nil {
			return err
		}
		if err := out.poll(); err != nil {
			return err
		}
		if progress || got {
			idle.reset()
		} else {
			idle.sending(out)
			idle.wait(pool, watch(ctx, w.stopping), true)
		}
	}
}

// sendReport sends rep to this rank's dealer, and the parts of its pieces
// straight to rank 0 (parts.go), and says whether it was the final one. A
// map that another map ran beside on this rank fails instead of ending: at
// its end, so that a map started beside it on another rank also finds it
// running, and is refused there too.
func (m *mapper[R]) sendReport(out *outbox, rep *report[R]) (final bool, err error) {
	if rep.kind == kindFinal && m.poisoned.Load() {
		return true, errConcurrent
	}
	if rep.kind == kindFinal {
		own := m.load.load
		own.messages++ // this one
		rep.loads = append(rep.loads, rankLoad{m.rank, own})
	}
	// Its own buffer: the send may still be under way.
	msg := appendReport(nil, m.seq, rep, m.codec, m.host)
	for i := range rep.pieces {
		m.run.recycle(rep.pieces[i].vals)
	}
	if err := out.send(m.dealer, msg); err != nil {
		return rep.kind == kindFinal, err
	}
	return rep.kind == kindFinal, m.sendParts(out, rep)
}

// takeOrders receives the orders waiting from this rank's dealer and hands
// each to receive.
func (m *mapper[R]) takeOrders(now time.Time, receive func(time.Time, *order) error) (progress bool, err error) {
	for {
		body, _, ok, err := m.receive(m.dealer, tagToWorker)
		if err != nil || !ok {
			return progress, err
		}
		progress = true
		o, err := readOrder(body, m.n)
		if err != nil {
			return progress, fmt.Errorf("mpimap: malformed message from rank %d: %w", m.dealer, err)
		}
		if m.inputs != nil {
			m.inputs.keep(&o)
		}
		if err := receive(now, &o); err != nil {
			return progress, err
		}
	}
}

// relay runs the part of a node's leader: its own tasks, and its node's,
// dealt on from rank 0 and reported back up (see leader.go).
func (m *mapper[R]) relay(ctx context.Context) error {
	pool, own, stop := m.startPool(ctx, true)
	defer stop()
	members := m.layout.members(m.rank)
	l := newLeader(m.cfg, m.np, members, len(members)*m.cfg.workers, own, !m.cfg.schedule.dealt(), m.codec.Size())
	l.up.grace = own.grace
	up := outbox{comm: m.comm, tag: tagToDealer, load: &m.load}
	down := outbox{comm: m.comm, tag: tagToWorker, load: &m.load}
	err := m.lead(ctx, l, pool, &up, &down)
	if err != nil {
		m.tellDealer(err)
		why := "the map failed on rank " + strconv.Itoa(m.rank) + ": " + err.Error()
		if abort, ok := err.(rootAbort); ok {
			why = abort.why // passed on as it came
		}
		m.abort(&down, members, why)
		up.abandon()
		return err
	}
	err = m.awaitOutcome(ctx, own.own, &up, func(o *order) { m.tell(&down, members, o) })
	if _, aborted := err.(rootAbort); aborted {
		down.abandon() // the node's ranks may be gone
		return err
	}
	// Joined only on failure: the map's own error must stay the flat list of
	// TaskErrors that callers unwrap.
	if ferr := down.flush(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	return err
}

// lead is a node leader's loop: reports from its node and orders from rank
// 0 in, orders down and reports up out, until its final report is sent.
func (m *mapper[R]) lead(ctx context.Context, l *leader[R], pool *pool[R], up, down *outbox) error {
	idle := idler[R]{spin: m.spin}
	for {
		now := time.Now()
		progress, err := m.takeReports(l.fromNode, len(l.node.workers))
		if err != nil {
			return err
		}
		if fresh := pool.finished(); len(fresh) > 0 {
			l.local.done(fresh)
			progress = true
		}
		if rep := l.local.next(now); rep != nil {
			progress = true
			if err := l.fromNode(m.rank, rep); err != nil {
				return err
			}
		}
		got, err := m.takeOrders(now, l.fromRoot)
		if err != nil {
			return err
		}
		if ctx.Err() != nil && !l.up.stopping {
			l.stop(now, causeOf(ctx))
		}
		if orders := l.orders(); len(orders) > 0 {
			progress = true
			if err := m.deliver(now, down, l.local, orders); err != nil {
				return err
			}
		}
		if rep := l.next(now); rep != nil {
			if final, err := m.sendReport(up, rep); final || err != nil {
				return err
			}
		}
		if err := errors.Join(up.poll(), down.poll()); err != nil {
			return err
		}
		if progress || got {
			idle.reset()
		} else {
			idle.sending(up)
			idle.wait(pool, watch(ctx, l.up.stopping), true)
		}
	}
}

// startPool starts this rank's goroutines, and its worker handing them
// tasks (local: reporting to a dealer in this process). stop cancels the
// tasks' context once the goroutines have ended (or been abandoned).
func (m *mapper[R]) startPool(ctx context.Context, local bool) (p *pool[R], w *worker[R], stop func()) {
	runCtx, cancel := context.WithCancel(ctx)
	m.run.stopped.Store(ctx.Err() != nil) // no task starts in a map cancelled before it began
	p = newPool(runCtx, m.run, m.cfg.workers, m.cfg.schedule.dealt(), m.skip)
	w = m.newWorker(poolExec[R]{p, cancel}, m.cfg.workers, local)
	return p, w, func() {
		p.close()
		cancel()
	}
}

// newWorker is this rank's worker, running its tasks on exec's workers
// goroutines; a local one reports to a dealer in the same process.
func (m *mapper[R]) newWorker(exec executor, workers int, local bool) *worker[R] {
	w := newWorker[R](exec, workers, m.cfg.chunk, m.share(m.rank), m.cfg.retries > 0, local)
	if m.cfg.grace != nil {
		w.grace = *m.cfg.grace
	}
	return w
}

// rootAbort is the error of a map that failed elsewhere, as the rank where
// it failed said.
type rootAbort struct{ why string }

func (e rootAbort) Error() string { return "mpimap: " + e.why }

// errUnexpected is the error of an order of a kind that has no place where it
// came.
func errUnexpected(kind byte) error {
	return fmt.Errorf("mpimap: unexpected message kind %d from the dealer", kind)
}

// tellDealer tells this rank's dealer that the map failed on this rank, so
// that the map ends on every rank instead of waiting for this one's results.
// Best effort: the communication may be what failed.
func (m *mapper[R]) tellDealer(err error) {
	if _, fromAbove := err.(rootAbort); fromAbove {
		return
	}
	rep := report[R]{kind: kindFailed, cause: err.Error()}
	out := outbox{comm: m.comm, tag: tagToDealer}
	out.send(m.dealer, appendReport(nil, m.seq, &rep, m.codec, m.host))
	out.abandon() // small, and the dealer may be gone: not waited for
}

// awaitOutcome waits for the dealer's word on how the map ended, hands it to
// pass (a leader passes it on to its node), and turns it into this rank's
// error.
//
// The last reports may still be on their way, each waiting for the dealer to
// receive it: if the map fails there meanwhile, they never will be, and
// waiting for them alone would hang.
func (m *mapper[R]) awaitOutcome(ctx context.Context, own map[int]error, out *outbox, pass func(*order)) (err error) {
	defer func() {
		if err != nil {
			out.abandon()
		}
	}()
	idle := idler[R]{spin: m.spin}
	for {
		if err := out.poll(); err != nil {
			return err
		}
		body, _, ok, err := m.receive(m.dealer, tagToWorker)
		if err != nil {
			return err
		}
		if !ok {
			idle.sending(out)
			idle.wait(nil, nil, true)
			continue
		}
		o, err := readOrder(body, m.n)
		if err != nil {
			return fmt.Errorf("mpimap: malformed message from rank %d: %w", m.dealer, err)
		}
		if (o.kind == kindAbort || o.kind == kindOutcome) && pass != nil {
			pass(&o)
		}
		switch o.kind {
		case kindAbort:
			return rootAbort{o.text}
		case kindOutcome:
			// The dealer has had every message of this rank's: the sends end.
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
