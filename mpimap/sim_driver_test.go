package mpimap

import (
	"fmt"
	"time"
)

// The drivers of the simulator: a turn of rank 0's loop (deal and root in
// driver.go) or of a worker rank's (report and awaitOutcome), and when a
// rank's driver takes its next turn.

// simPreempt is how long Go lets a goroutine run before sysmon preempts it.
const simPreempt = int64(10e6)

// simCost is what a map's messages and polls cost, in ns of the CPU of the
// rank that handles them, and what the transport and the idle driver take.
type simCost struct {
	// At a worker: a report out (w.next, appendReport, Isend and its Test),
	// an order in (TryRecv, readOrder, w.receive).
	workerSend, workerSendPiece, workerSendResult float64
	workerRecv                                    float64
	// At rank 0: a report in (TryRecv, readReport, d.receive), an order out
	// (d.answer's share, appendOrder, Isend and its Test), each request
	// left waiting in d.answer, and rank 0's own worker's exchange with the
	// dealer (no MPI, no encoding).
	dealerRecv, dealerRecvPiece, dealerRecvResult float64
	dealerSend, answerWaiting                     float64
	// At a node's leader: a report of its node's in (TryRecv, readReport,
	// the node dealer's receive, which hands the pieces up).
	leaderRecv, leaderRecvPiece, leaderRecvResult float64
	local, localPiece, localResult                float64
	// An iteration of a driver's loop that finds nothing.
	poll float64
	// The transport: latency, ns, and time per byte, within a node and
	// between nodes; a network card passes at most one message per nicGap.
	latencyIn, latencyOut int64
	byteIn, byteOut       float64
	nicGap                int64
	// What the idle driver's timers really sleep: asked 1 µs, 1 ms, 10 ms.
	sleep [3]int64
}

func (c *simCost) ns(base, perPiece, perResult float64, rep *report[float64]) int64 {
	results := 0
	for i := range rep.pieces {
		results += rep.pieces[i].ran
	}
	return int64(base + perPiece*float64(len(rep.pieces)) + perResult*float64(results))
}

// turn runs rank r's driver from time t until an iteration finds nothing to
// do, and schedules its next turn.
func (s *sim) turn(r *simRank, t int64) {
	s.res.turns++
	r.exec.beginTurn(t)
	var clock int64
	var progressed bool
	switch {
	case r.id == 0:
		clock, progressed = s.rootTurn(r, t)
	case r.l != nil:
		clock, progressed = s.leaderTurn(r, t)
	default:
		clock, progressed = s.workerTurn(r, t)
	}
	r.yielded = r.exec.endTurn(clock)
	r.turnEnd = clock
	if progressed {
		r.since = clock // the quiet spell starts at the first wait after progress
	}
	if r.id == 0 {
		s.res.rootBusy += clock - t
	}
	r.tFree = r.exec.freeAt(clock, &s.scratch)
	r.next = never
	if !r.over {
		r.next = r.nextTurn(s)
	}
	s.requeue(r.id)
}

// requeue puts rank r back in its place in the queue after its next turn
// changed, or takes it out once the map has returned there.
func (s *sim) requeue(r int) {
	if s.ranks[r].over {
		s.queue.remove(r)
		return
	}
	s.queue.fix(r)
}

// sendReport sends rep from r to its dealer (sendReport in driver.go).
func (s *sim) sendReport(r *simRank, clock int64, rep *report[float64]) int64 {
	c := s.cost
	if rep.kind == kindFinal {
		rep.loads = append(rep.loads, rankLoad{r.id, load{peers: r.peers.n}})
	}
	clock += c.ns(c.workerSend, c.workerSendPiece, c.workerSendResult, rep)
	r.final = rep.kind == kindFinal
	body, size := s.encodeReport(rep)
	s.send(r, r.dealer, clock, size, simMsg{rep: body})
	return clock
}

// takeOrders receives the orders waiting for r by the clock, handing each
// to receive, until the outcome; it reports whether there were any.
func (s *sim) takeOrders(r *simRank, clock *int64, now int64, receive func(time.Time, *order) error) bool {
	got := false
	for !r.over {
		m, ok := r.orders.popBy(*clock)
		if !ok {
			break
		}
		got = true
		*clock += int64(s.cost.workerRecv)
		if m.ord.kind == kindOutcome {
			s.passOutcome(r, clock, &m.ord)
			break
		}
		r.exec.now = *clock // pieces handed out now start no earlier
		if err := receive(vt(now), &m.ord); err != nil {
			s.err = err
		}
	}
	return got
}

// passOutcome ends the map on r, a leader first telling its node.
func (s *sim) passOutcome(r *simRank, clock *int64, o *order) {
	if r.l != nil {
		size := s.orderSize(o)
		for _, m := range r.members[1:] {
			*clock += int64(s.cost.dealerSend)
			s.send(r, m, *clock, size, simMsg{ord: *o})
		}
	}
	r.over = true
	s.res.makespan = max(s.res.makespan, *clock)
}

// workerTurn is report's loop, and awaitOutcome's once the final report is
// out.
func (s *sim) workerTurn(r *simRank, t int64) (int64, bool) {
	clock, progressed := t, false
	for {
		progress := false
		now := clock
		if !r.final {
			if fresh := r.exec.finished(clock); len(fresh) > 0 {
				r.w.done(fresh)
				progress = true
			}
			if rep := r.w.next(vt(now)); rep != nil {
				clock = s.sendReport(r, clock, rep)
			}
		}
		got := s.takeOrders(r, &clock, now, r.w.receive)
		clock += int64(s.cost.poll)
		if r.over || !progress && !got {
			return clock, progressed || r.over
		}
		progressed = true
	}
}

// takeReports receives the reports waiting for r by the clock, at most one
// per worker of its dealer d, and hands each to receive, the sender's rank
// less base (a leader's node dealer numbers its node from 0).
func (s *sim) takeReports(r *simRank, clock *int64, d *dealer[float64], recv [3]float64, base int,
	receive func(int, *report[float64]) error) bool {
	got := false
	for range len(d.workers) {
		m, ok := r.reports.popBy(*clock)
		if !ok {
			break
		}
		got = true
		rep, err := readReport[float64](m.rep, s.setup.tasks)
		if err != nil {
			s.err = fmt.Errorf("sim: malformed report from rank %d: %w", m.from, err)
			return got
		}
		*clock += s.cost.ns(recv[0], recv[1], recv[2], &rep)
		if err := receive(m.from-base, &rep); err != nil {
			s.err = err
		}
		if r.id == 0 {
			s.noteSettled(&rep, *clock)
		}
	}
	return got
}

// deliver sends orders, r's own to its own worker directly; their ranks are
// counted from base.
func (s *sim) deliver(r *simRank, clock *int64, now int64, base int, envs []envelope) {
	for i := range envs {
		e := &envs[i]
		if e.to+base == r.id {
			r.exec.now = *clock
			if err := r.w.receive(vt(now), &e.o); err != nil {
				s.err = err
			}
			continue
		}
		size := s.orderSize(&e.o)
		*clock += int64(s.cost.dealerSend)
		s.send(r, e.to+base, *clock, size, simMsg{ord: e.o})
	}
}

// rootTurn is deal's loop on rank 0, which computes too, and root's
// outcome once the map is over.
func (s *sim) rootTurn(r *simRank, t int64) (int64, bool) {
	c, d, own := s.cost, s.dealer, r.w
	clock, progressed := t, false
	for {
		now := clock
		progress := s.takeReports(r, &clock, d, [3]float64{c.dealerRecv, c.dealerRecvPiece, c.dealerRecvResult}, 0, d.receive)
		if fresh := r.exec.finished(clock); len(fresh) > 0 {
			own.done(fresh)
			progress = true
		}
		if rep := own.next(vt(now)); rep != nil {
			progress = true
			clock += c.ns(c.local, c.localPiece, c.localResult, rep)
			if err := d.receive(0, rep); err != nil {
				s.err = err
			}
			s.noteSettled(rep, clock)
		}
		clock += int64(c.answerWaiting * float64(len(d.waiting)))
		if answers := d.answer(); len(answers) > 0 {
			progress = true
			s.deliver(r, &clock, now, 0, answers)
		}
		clock += int64(c.poll)
		if d.finished() {
			return s.outcome(r, clock), true
		}
		if !progress {
			return clock, progressed
		}
		progressed = true
	}
}

// leaderTurn is lead's loop on a node's leader, and awaitOutcome's once its
// final report is out.
func (s *sim) leaderTurn(r *simRank, t int64) (int64, bool) {
	c, l := s.cost, r.l
	clock, progressed := t, false
	for {
		now := clock
		progress, got := false, false
		if !r.final {
			progress = s.takeReports(r, &clock, l.node, [3]float64{c.leaderRecv, c.leaderRecvPiece, c.leaderRecvResult}, r.id, l.fromNode)
			if fresh := r.exec.finished(clock); len(fresh) > 0 {
				l.local.done(fresh)
				progress = true
			}
			if rep := l.local.next(vt(now)); rep != nil {
				progress = true
				clock += c.ns(c.local, c.localPiece, c.localResult, rep)
				if err := l.fromNode(0, rep); err != nil {
					s.err = err
				}
			}
			got = s.takeOrders(r, &clock, now, l.fromRoot)
			if orders := l.orders(); len(orders) > 0 {
				progress = true
				s.deliver(r, &clock, now, r.id, orders)
			}
			if rep := l.next(vt(now)); rep != nil {
				clock = s.sendReport(r, clock, rep)
			}
		} else {
			got = s.takeOrders(r, &clock, now, func(time.Time, *order) error { return nil })
		}
		clock += int64(c.poll)
		if r.over || !progress && !got {
			return clock, progressed || r.over
		}
		progressed = true
	}
}

// outcome sends every rank that reports to rank 0 how the map ended, as
// root does, and ends the map on rank 0.
func (s *sim) outcome(r *simRank, clock int64) int64 {
	o := s.dealer.outcome()
	size := s.orderSize(&o)
	for _, to := range s.dealer.workers {
		if to != 0 {
			clock += int64(s.cost.dealerSend)
			s.send(r, to, clock, size, simMsg{ord: o})
		}
	}
	r.over = true
	s.res.makespan = max(s.res.makespan, clock)
	return clock
}

// nextTurn is when r's driver next finds something to do, and has a core to
// do it: a message received, a piece finished, or results held back whose
// time is up (holdFor). A goroutine yields after each piece (pool.work): the
// driver, runnable or woken by the piece, takes its core at once.
func (r *simRank) nextTurn(s *sim) int64 {
	next := r.msgSeen(r.firstMessage(), s)
	if c := r.exec.firstEnd(); c != never && !r.final {
		next = min(next, c)
	}
	if w := r.upWorker(); w != nil && !r.final && len(w.ready) > 0 && w.awaiting {
		next = min(next, r.msgSeen(int64(w.asked.Sub(simBase)+holdFor), s))
	}
	return next
}

// msgSeen is when r's driver first polls at or after t, a message having
// arrived then.
func (r *simRank) msgSeen(t int64, s *sim) int64 {
	if t == never {
		return never
	}
	t = max(t, r.turnEnd)
	if r.yielded {
		return r.coreAt(t, s) // runnable already: it polls as soon as it has a core
	}
	return r.coreAt(r.pollAt(t, s), s)
}

// pollAt is the first poll of the idle driver at or after t, were it always
// on a core: back to back during the spin, then at the end of each timer.
func (r *simRank) pollAt(t int64, s *sim) int64 {
	c := s.cost
	poll := max(int64(c.poll), 1)
	spinEnd := r.since + s.spin
	if t < spinEnd {
		from := r.turnEnd
		return from + (t-from+poll-1)/poll*poll
	}
	phases := [3]struct{ end, period int64 }{
		{r.since + int64(napFor), c.sleep[0] + poll},
		{r.since + int64(dozeFor), c.sleep[1] + poll},
		{never, c.sleep[2] + poll},
	}
	start := max(spinEnd, r.turnEnd)
	for _, p := range phases {
		if t < p.end || p.end == never {
			k := max(0, (t-start+p.period-1)/p.period)
			return start + k*p.period
		}
		start = max(start, p.end)
	}
	return t
}

// coreAt is when the driver, wanting a core from w on, gets one: at once if
// one is free, else when a goroutine finishes a piece and yields, blocks, or
// is preempted.
func (r *simRank) coreAt(w int64, s *sim) int64 {
	if w == never || !r.exec.cpu || w >= r.tFree {
		return w
	}
	return min(r.tFree, r.exec.preemptAt(w), r.exec.yieldAt(w, &s.scratch))
}
