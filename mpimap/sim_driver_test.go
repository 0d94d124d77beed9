package mpimap

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
	if r.id == 0 {
		clock, progressed = s.rootTurn(r, t)
	} else {
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
	s.queue.fix(r.id)
}

// workerTurn is report's loop, and awaitOutcome's once the final report is
// out.
func (s *sim) workerTurn(r *simRank, t int64) (int64, bool) {
	c := s.cost
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
				size := s.reportSize(rep)
				clock += c.ns(c.workerSend, c.workerSendPiece, c.workerSendResult, rep)
				s.send(r, 0, clock, size, simMsg{rep: rep})
				r.final = rep.kind == kindFinal
			}
		}
		for {
			m, ok := r.inbox.popBy(clock)
			if !ok {
				break
			}
			progress = true
			clock += int64(c.workerRecv)
			if m.ord.kind == kindOutcome {
				r.over = true
				s.res.makespan = max(s.res.makespan, clock)
				return clock, true
			}
			r.exec.now = clock // pieces handed out now start no earlier
			if err := r.w.receive(vt(now), &m.ord); err != nil {
				s.err = err
			}
		}
		clock += int64(c.poll)
		if !progress {
			return clock, progressed
		}
		progressed = true
	}
}

// rootTurn is deal's loop on rank 0, which computes too, and root's
// outcome once the map is over.
func (s *sim) rootTurn(r *simRank, t int64) (int64, bool) {
	c, d, own := s.cost, s.dealer, r.w
	clock, progressed := t, false
	for {
		progress := false
		now := clock
		for range s.setup.ranks - 1 {
			m, ok := r.inbox.popBy(clock)
			if !ok {
				break
			}
			progress = true
			clock += c.ns(c.dealerRecv, c.dealerRecvPiece, c.dealerRecvResult, m.rep)
			if err := d.receive(m.from, m.rep); err != nil {
				s.err = err
			}
			s.noteSettled(m.rep, clock)
		}
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
			for i := range answers {
				e := &answers[i]
				if e.to == 0 {
					r.exec.now = clock
					if err := own.receive(vt(now), &e.o); err != nil {
						s.err = err
					}
					continue
				}
				size := s.orderSize(&e.o)
				clock += int64(c.dealerSend)
				s.send(r, e.to, clock, size, simMsg{ord: e.o})
			}
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

// outcome sends every other rank how the map ended, as root does, and ends
// the map on rank 0.
func (s *sim) outcome(r *simRank, clock int64) int64 {
	o := s.dealer.outcome()
	size := s.orderSize(&o)
	for to := 1; to < s.setup.ranks; to++ {
		clock += int64(s.cost.dealerSend)
		s.send(r, to, clock, size, simMsg{ord: o})
	}
	r.over = true
	s.res.makespan = max(s.res.makespan, clock)
	return clock
}

// nextTurn is when r's driver next finds something to do, and has a core to
// do it: a message received, a piece finished, or results held back whose
// time is up (holdFor).
func (r *simRank) nextTurn(s *sim) int64 {
	next := r.msgSeen(r.inbox.first(), s)
	if c := r.exec.firstEnd(); c != never && !r.final {
		if r.yielded || c >= r.since+int64(spinFor) {
			next = min(next, r.coreAt(c)) // a finished piece ends a wait at once
		} else {
			next = min(next, r.pollAt(c, s.cost))
		}
	}
	if w := r.w; !r.final && len(w.ready) > 0 && w.awaiting && !w.local {
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
		return r.coreAt(t) // runnable already: it polls as soon as it has a core
	}
	return r.coreAt(r.pollAt(t, s.cost))
}

// pollAt is the first poll of the idle driver at or after t, were it always
// on a core: back to back during the spin, then at the end of each timer.
func (r *simRank) pollAt(t int64, c *simCost) int64 {
	poll := max(int64(c.poll), 1)
	spinEnd := r.since + int64(spinFor)
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
// one is free, else when a goroutine blocks or is preempted.
func (r *simRank) coreAt(w int64) int64 {
	if w == never || !r.exec.cpu || w >= r.tFree {
		return w
	}
	return min(r.tFree, r.exec.preemptAt(w))
}
