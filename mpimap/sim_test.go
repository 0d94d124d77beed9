package mpimap

import (
	"fmt"
	"math"
	"time"

	"github.com/hpcmap/hpcmap/internal/codec"
)

// A discrete-event simulator of a map at sizes this machine cannot run. It
// drives the real dealer and worker state machines (dealer.go, worker.go) the
// way driver.go's loops drive them over MPI, but over a simulated transport,
// with a virtual clock, and with simulated pools (simExec) whose tasks take
// the time a distribution says. One process holds every logical rank: no
// goroutine per rank, one event per driver turn, ranks ordered in a heap by
// the time of their next turn.
//
// The model, and what it assumes:
//   - A rank is a driver (its loop in driver.go) and a pool of W worker
//     goroutines on W cores (rank per core: W = 1; rank per node: W = 128).
//     The driver shares those cores: with CPU-bound tasks it runs only when a
//     goroutine finishes a piece and yields (pool.work's Gosched), blocks on
//     the pool's empty queue, or when Go's sysmon preempts a goroutine that
//     has run simPreempt (10 ms) without a break. This is how Go schedules
//     one P per core; the
//     simulator does not model the operating system.
//   - A driver turn is the loop of driver.go run until an iteration finds
//     nothing to do. Each iteration costs simCost.poll (a TryRecv that finds
//     nothing, the pool and the machines asked for nothing), plus for every
//     message it receives or sends the measured CPU time of that message at
//     that end (MPI call, encoding, state machine); rank 0 receives at most
//     np−1 reports per iteration, as deal does. The machines see the virtual
//     time at the start of the iteration, as the loops' now.
//   - When an iteration finds nothing, the driver idles as idler.wait does:
//     it polls back to back (Gosched) for spinFor (spinAlone when its node
//     has a core for each rank), then sleeps on timers whose
//     real lengths were measured (simCost.sleep), waking at once for a
//     finished piece; it reacts to a message at its first poll after the
//     message arrived — and, if its core is taken by a task then, when a core
//     frees or at the next preemption. Polls that find nothing are not
//     simulated one by one and cost nothing: a rank's next turn is computed
//     in closed form from its messages, its pieces and its clocks.
//   - The transport: a message of b bytes sent at t is receivable at
//     t + latency + b·perByte, within a node (measured on this machine) or
//     between nodes (published InfiniBand HDR figures), where it also waits
//     for the network card of each node to pass it (its bytes at the link's
//     bandwidth, and at least 1/message rate). Eager delivery: a message
//     arrives whether or not its receiver is polling; sends never block
//     (every send in driver.go is an Isend). A report travels as
//     appendReport encodes it and is decoded by readReport, as over MPI;
//     an order is handed over as the dealer gave it out, its size that of
//     appendOrder.
//   - Not modelled: the start of the map (agreement, a collective of log2(np)
//     steps), operating-system noise, contention for memory, network
//     congestion beyond the card at each end, and rendezvous protocols for
//     large messages.

// simSetup is one map to simulate.
type simSetup struct {
	ranks   int
	perNode int  // ranks per node
	workers int  // worker goroutines (and cores) per rank
	cpu     bool // tasks hold their core; false: they sleep
	tasks   int
	chunk   int
	dur     func(i int) int64 // task i's duration, ns
	cost    simCost
	leaders bool // deal through node leaders
	// alone: the node has a core for each of its ranks, whose idle drivers
	// then spin spinAlone rather than spinFor (map.go).
	alone bool
}

// simResult is what a simulation measured.
type simResult struct {
	makespan   int64 // from the start to the last rank's return from the map, ns
	useful     int64 // task time, summed
	rootBusy   int64 // time rank 0's driver spent in its turns
	maxPeers   int   // the most distinct ranks any rank exchanged messages with
	messages   int   // messages sent, in all
	turns      int   // driver turns simulated
	efficiency float64
	// steady is the efficiency while the middle of the map settles: task
	// time settled between 10% and 90% of the tasks ÷ (workers × that
	// time), free of the start and the tail.
	steady   float64
	t10, t90 int64
	u10, u90 int64 // task time settled by then
}

func (r simResult) String() string {
	return fmt.Sprintf("makespan %v, efficiency %.4f (steady %.4f), rank 0 busy %.3f, peers %d, messages %d, turns %d",
		time.Duration(r.makespan), r.efficiency, r.steady, float64(r.rootBusy)/float64(max(r.makespan, 1)), r.maxPeers, r.messages, r.turns)
}

type sim struct {
	setup   simSetup
	cost    *simCost
	ranks   []simRank
	queue   indexHeap
	nicIn   []int64 // by node: when its card is free to pass the next message in
	nicOut  []int64
	gather  *gather[float64]
	dealer  *dealer[float64]
	codec   codec.Codec[float64]
	spare   *runner[float64]
	useful  int64 // task time run
	settled int64 // task time whose results rank 0 has
	scratch []int64
	buf     []byte
	spin    int64 // how long an idle driver only yields
	res     simResult
	err     error
}

// simRank is one logical rank: rank 0, a node's leader, or a worker.
type simRank struct {
	id, node int              // node: where it runs, for the transport
	w        *worker[float64] // its own tasks' worker (local on rank 0 and leaders)
	l        *leader[float64] // if it leads a node
	exec     *simExec
	dealer   int     // where a worker's reports go
	members  []int   // a leader's node, itself first
	reports  msgHeap // from workers (rank 0, leaders)
	orders   msgHeap // from a dealer
	peers    peerSet

	next, turnEnd, since int64 // next turn; end of the last; start of the quiet spell
	tFree                int64 // when a core is free for the driver, until its next turn
	yielded              bool  // after its last turn the driver gave its core to a goroutine
	final                bool  // the final report is out: waiting for the outcome
	over                 bool  // the map has returned on this rank
	pos                  int32 // in the queue of ranks
}

// upWorker is the worker whose reports go to another rank, if any.
func (r *simRank) upWorker() *worker[float64] {
	switch {
	case r.l != nil:
		return r.l.up
	case r.id != 0:
		return r.w
	}
	return nil
}

// firstMessage is when the first message waiting for r can be received.
func (r *simRank) firstMessage() int64 { return min(r.reports.first(), r.orders.first()) }

// simMsg is a message on its way or waiting to be received: a report as
// its encoding (after the sequence number), decoded by readReport when
// received; an order as the dealer gave it out.
type simMsg struct {
	at   int64 // when it can be received
	from int
	rep  []byte // to a dealer
	ord  order  // to a worker
}

// simBase is the virtual clock's origin as the machines see it.
var simBase = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func vt(t int64) time.Time { return simBase.Add(time.Duration(t)) }

func durationOf(ns int64) time.Duration { return time.Duration(ns) }

// simulate runs the map of setup to its end.
func simulate(setup simSetup) (simResult, error) {
	s, err := newSim(setup)
	if err != nil {
		return simResult{}, err
	}
	for s.err == nil && s.queue.len() > 0 {
		r := &s.ranks[s.queue.top()]
		if r.next == never {
			return s.res, fmt.Errorf("sim: stuck at %v with %d ranks not done", time.Duration(s.res.makespan), s.queue.len())
		}
		s.turn(r, r.next)
	}
	if s.err != nil {
		return s.res, s.err
	}
	return s.res, s.check()
}

func newSim(setup simSetup) (*sim, error) {
	if setup.ranks < 1 || setup.workers < 1 || setup.perNode < 1 || setup.chunk < 1 || setup.tasks < 0 {
		return nil, fmt.Errorf("sim: bad setup %+v", setup)
	}
	c, err := codec.New[float64]()
	if err != nil {
		return nil, err
	}
	cost := setup.cost
	s := &sim{setup: setup, cost: &cost, codec: c, spare: &runner[float64]{}, spin: int64(spinFor)}
	if setup.alone {
		s.spin = int64(spinAlone)
	}
	cfg := newConfig([]Option{WithSchedule(Dynamic), WithChunk(setup.chunk), WithWorkers(setup.workers)})
	cfg.chunk = min(cfg.chunk, max(setup.tasks, 1)) // as execute clamps it
	mon, err := newMonitor(cfg, setup.tasks, nil, 0)
	if err != nil {
		return nil, err
	}
	s.gather = &gather[float64]{codec: c, results: make([]float64, setup.tasks), mon: mon, run: s.spare}
	// Who deals to whom: as the map groups ranks into nodes, by perNode
	// consecutive ranks for leaders, one rank per node for flat dealing.
	k := 1
	if setup.leaders {
		k = setup.perNode
	}
	lay, err := nodeLayout(nil, setup.ranks, k)
	if err != nil {
		return nil, err
	}
	s.dealer = newDealer(s.gather, cfg, setup.tasks, setup.ranks, 0, lay.reportingTo(true), nil)
	nodes := (setup.ranks + setup.perNode - 1) / setup.perNode
	s.nicIn, s.nicOut = make([]int64, nodes), make([]int64, nodes)
	s.ranks = make([]simRank, setup.ranks)
	s.queue.key = func(r int32) int64 { return s.ranks[r].next }
	s.queue.pos = func(r int32) *int32 { return &s.ranks[r].pos }
	for id := range s.ranks {
		r := &s.ranks[id]
		r.id, r.node = id, id/setup.perNode
		r.exec = newSimExec(id, setup.workers, setup.cpu, setup.dur, s.spare, &s.useful)
		// A node of k consecutive ranks: the layout's leads and members,
		// without their scans of every rank.
		leads := id != 0 && id%k == 0 && min(id+k, setup.ranks)-id > 1
		r.w = newWorker[float64](r.exec, setup.workers, cfg.chunk, nil, false, id == 0 || leads)
		r.dealer = lay.dealerOf(id)
		if leads {
			for m := id; m < min(id+k, setup.ranks); m++ {
				r.members = append(r.members, m)
			}
			// Toward its node dealer, the node's ranks are numbered from 0
			// (rank id+j is j): the dealer's tables are indexed by rank,
			// and sized by the ranks it may hear from.
			local := make([]int, len(r.members))
			for j := range local {
				local[j] = j
			}
			r.l = newLeader(cfg, len(local), local, len(local)*setup.workers, r.w, false, s.codec.Size())
		}
		s.queue.push(id)
	}
	return s, nil
}

// check verifies that every task ran once, through the machines, and fills in
// the result.
func (s *sim) check() error {
	if s.dealer.settled != s.setup.tasks {
		return fmt.Errorf("sim: %d of %d tasks settled", s.dealer.settled, s.setup.tasks)
	}
	for i, v := range s.gather.results {
		if v != simValue(i) {
			return fmt.Errorf("sim: result %d is %v, want %v", i, v, simValue(i))
		}
	}
	s.res.useful = s.useful
	s.res.efficiency = float64(s.useful) / (float64(s.setup.ranks*s.setup.workers) * float64(max(s.res.makespan, 1)))
	if s.res.t90 > s.res.t10 {
		s.res.steady = float64(s.res.u90-s.res.u10) / (float64(s.setup.ranks*s.setup.workers) * float64(s.res.t90-s.res.t10))
	}
	for i := range s.ranks {
		s.res.maxPeers = max(s.res.maxPeers, s.ranks[i].peers.n)
	}
	return nil
}

// send puts a message on its way from rank from to rank to at time t.
func (s *sim) send(from *simRank, to int, t int64, size int, m simMsg) {
	dst := &s.ranks[to]
	c := s.cost
	if from.node == dst.node {
		m.at = t + c.latencyIn + int64(float64(size)*c.byteIn)
	} else {
		pass := max(int64(float64(size)*c.byteOut), c.nicGap)
		out := max(t, s.nicOut[from.node]) + pass
		s.nicOut[from.node] = out
		in := max(out+c.latencyOut, s.nicIn[dst.node]+pass)
		s.nicIn[dst.node] = in
		m.at = in
	}
	m.from = from.id
	from.peers.add(to)
	dst.peers.add(from.id)
	if m.rep != nil {
		dst.reports.push(m)
	} else {
		dst.orders.push(m)
	}
	s.res.messages++
	if !dst.over {
		if at := dst.msgSeen(m.at, s); at < dst.next {
			dst.next = at
			s.requeue(to)
		}
	}
}

// reportSize is the size of rep on the wire.
func (s *sim) reportSize(rep *report[float64]) int {
	s.buf = appendReport(s.buf[:0], 1, rep, s.codec, "node-00001")
	return len(s.buf)
}

// encodeReport is rep as a rank sends it, and its size on the wire; the
// results' value slices go back for reuse, as sendReport's do.
func (s *sim) encodeReport(rep *report[float64]) ([]byte, int) {
	msg := appendReport(nil, 1, rep, s.codec, "node-00001")
	for i := range rep.pieces {
		s.spare.recycle(rep.pieces[i].vals)
	}
	_, body, _ := sequence(msg)
	return body, len(msg)
}

func (s *sim) orderSize(o *order) int {
	s.buf = appendOrder(s.buf[:0], 1, o)
	return len(s.buf)
}

// peerSet counts the distinct ranks a rank exchanged messages with: a short
// list while it is short, a bitset beyond.
type peerSet struct {
	few  []int32
	many map[int32]struct{}
	n    int
}

func (p *peerSet) add(r int) {
	if p.many != nil {
		if _, ok := p.many[int32(r)]; !ok {
			p.many[int32(r)] = struct{}{}
			p.n++
		}
		return
	}
	for _, x := range p.few {
		if x == int32(r) {
			return
		}
	}
	p.few = append(p.few, int32(r))
	p.n++
	if len(p.few) > 16 {
		p.many = map[int32]struct{}{}
		for _, x := range p.few {
			p.many[x] = struct{}{}
		}
		p.few = nil
	}
}

// msgHeap holds a rank's messages by the time they can be received.
type msgHeap []simMsg

func (h msgHeap) first() int64 {
	if len(h) == 0 {
		return never
	}
	return h[0].at
}

func (h *msgHeap) push(m simMsg) {
	*h = append(*h, m)
	a := *h
	for k := len(a) - 1; k > 0; {
		p := (k - 1) / 2
		if a[p].at <= a[k].at {
			break
		}
		a[p], a[k] = a[k], a[p]
		k = p
	}
}

// popBy takes the first message receivable by t.
func (h *msgHeap) popBy(t int64) (simMsg, bool) {
	a := *h
	if len(a) == 0 || a[0].at > t {
		return simMsg{}, false
	}
	m := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = simMsg{}
	a = a[:last]
	for k := 0; ; {
		l, best := 2*k+1, k
		if l < len(a) && a[l].at < a[best].at {
			best = l
		}
		if r := l + 1; r < len(a) && a[r].at < a[best].at {
			best = r
		}
		if best == k {
			break
		}
		a[k], a[best] = a[best], a[k]
		k = best
	}
	*h = a
	return m, true
}

// lognormal is a task duration of mean mean and log-standard-deviation sigma,
// drawn for task i alone: the same task takes the same time whatever ran it.
func lognormal(mean float64, sigma float64) func(i int) int64 {
	return func(i int) int64 {
		a, b := splitmix(uint64(i)*2+1), splitmix(uint64(i)*2+2)
		u1 := (float64(a>>11) + 0.5) / (1 << 53)
		u2 := float64(b>>11) / (1 << 53)
		z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
		return int64(mean * math.Exp(sigma*z-sigma*sigma/2))
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// constant is a task duration of d for every task.
func constant(d int64) func(int) int64 { return func(int) int64 { return d } }

// noteSettled follows the task time settled at rank 0, for simResult.steady.
func (s *sim) noteSettled(rep *report[float64], t int64) {
	for i := range rep.pieces {
		p := &rep.pieces[i].pieceReport
		for k := range p.ran {
			s.settled += s.setup.dur(p.s.at(k))
		}
	}
	n := s.dealer.settled
	if s.res.t10 == 0 && 10*n >= s.setup.tasks {
		s.res.t10, s.res.u10 = t, s.settled
	}
	if s.res.t90 == 0 && 10*n >= 9*s.setup.tasks {
		s.res.t90, s.res.u90 = t, s.settled
	}
}
