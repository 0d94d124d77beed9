package mpimap

import (
	"math"
	"testing"
	"time"
)

// The simulator's own tests: maps whose makespan, or whose first round trip,
// the cost model gives in closed form.

const ms = int64(time.Millisecond)

func TestSimZeroCostIsIdeal(t *testing.T) {
	// With a free transport and tasks that leave the driver its core,
	// Dynamic keeps every goroutine busy: ceil(n/slots) task times.
	for _, c := range []struct{ ranks, perNode, workers, n int }{
		{1, 1, 1, 10}, {2, 2, 1, 10}, {4, 2, 3, 120}, {8, 1, 16, 1024}, {3, 3, 2, 60}, {16, 4, 1, 160},
	} {
		res, err := simulate(simSetup{ranks: c.ranks, perNode: c.perNode, workers: c.workers, tasks: c.n, chunk: 1,
			dur: constant(ms)})
		if err != nil {
			t.Fatal(err)
		}
		slots := c.ranks * c.workers
		want := int64((c.n+slots-1)/slots) * ms
		// Each reaction waits for the next poll, a nanosecond apart.
		if slack := int64(4 * res.turns); res.makespan < want || res.makespan > want+slack {
			t.Errorf("%+v: makespan %v, want %v (+%v)", c, time.Duration(res.makespan), time.Duration(want), time.Duration(slack))
		}
		if res.useful != int64(c.n)*ms {
			t.Errorf("%+v: task time %v, want %v", c, time.Duration(res.useful), time.Duration(int64(c.n)*ms))
		}
	}
}

func TestSimOneRankKnownCosts(t *testing.T) {
	// One rank, one core, four 1 ms tasks: its dealer and its own worker
	// exchange locally (L0 a report, Lp and Lr per piece and result), and
	// the dealer lets a rank hold at most half the work left per rank.
	// Its goroutine yields after each piece, so the driver takes a turn at
	// each piece's end (1, 2, 3 and 4 ms): with the first turn, 4 pieces of
	// one result each in 7 local reports (requests without results among
	// them), and 11 polls, each turn's last finding nothing.
	const l0, lp, lr, poll = 1000, 100, 10, 50
	c := simCost{local: l0, localPiece: lp, localResult: lr, poll: poll}
	res, err := simulate(simSetup{ranks: 1, perNode: 1, workers: 1, cpu: true, tasks: 4, chunk: 1, dur: constant(ms), cost: c})
	if err != nil {
		t.Fatal(err)
	}
	want := 4*ms + 7*l0 + 4*lp + 4*lr + 11*poll
	if res.makespan != want {
		t.Errorf("makespan %d ns, want %d", res.makespan, want)
	}
}

// firstRoundTrip simulates a map of two ranks until rank 1's worker has had
// its first answer, and returns the round trip it measured, ns.
func firstRoundTrip(t *testing.T, setup simSetup) int64 {
	t.Helper()
	s, err := newSim(setup)
	if err != nil {
		t.Fatal(err)
	}
	w := s.ranks[1].w
	for s.err == nil && s.queue.len() > 0 && w.win.rtt == 0 && len(s.ranks[1].exec.slots) > 0 {
		r := &s.ranks[s.queue.top()]
		if r.next == never {
			t.Fatal("stuck")
		}
		s.turn(r, r.next)
	}
	if s.err != nil || w.win.rtt == 0 {
		t.Fatalf("no round trip: %v", s.err)
	}
	return int64(math.Round(w.win.rtt * 1e9))
}

func TestSimRoundTripTransport(t *testing.T) {
	// Rank 1 asks (S), the request travels (latency, bytes), rank 0 takes
	// it (R) and answers (D), the answer travels back; polls are 1 ns apart.
	c := simCost{workerSend: 2000, dealerRecv: 3000, dealerSend: 1500, workerRecv: 1200, poll: 1,
		latencyIn: 700, byteIn: 0.5, latencyOut: 5000, byteOut: 2, nicGap: 40, sleep: [3]int64{1, 1, 1}}
	s, _ := newSim(simSetup{ranks: 1, perNode: 1, workers: 1, tasks: 10, chunk: 1, dur: constant(ms)})
	req := s.reportSize(&report[float64]{kind: kindResults, want: 2, slots: 1})
	ans := s.orderSize(&order{kind: kindChunks, spans: []span{{0, 2, 1, 1}}})
	base := int64(c.workerSend + c.dealerRecv + c.dealerSend)
	for _, tc := range []struct {
		name    string
		perNode int
		want    int64
	}{
		{"within a node", 2, base + 2*c.latencyIn + int64(float64(req)*c.byteIn) + int64(float64(ans)*c.byteIn)},
		{"between nodes", 1, base + 2*c.latencyOut + max(int64(float64(req)*c.byteOut), c.nicGap) +
			max(int64(float64(ans)*c.byteOut), c.nicGap)},
	} {
		got := firstRoundTrip(t, simSetup{ranks: 2, perNode: tc.perNode, workers: 1, tasks: 10, chunk: 1, dur: constant(ms), cost: c})
		if got < tc.want || got > tc.want+4 {
			t.Errorf("%s: round trip %d ns, want %d (request %d bytes, answer %d)", tc.name, got, tc.want, req, ans)
		}
	}
}

func TestSimDriverSharesTheCore(t *testing.T) {
	// Rank per core: rank 0's dealer runs on the core of its own tasks, so a
	// request waits until rank 0's goroutine has run its first piece and
	// yields; with tasks of 100 ms, until sysmon preempts the goroutine
	// after 10 ms. Rank 1, quiet meanwhile,
	// sees the answer at the end of its next nap (50 µs here). Tasks that
	// sleep leave the core free: 4 µs of costs and latency.
	c := simCost{workerSend: 1000, dealerRecv: 1000, dealerSend: 1000, workerRecv: 1000, local: 1000, poll: 100,
		latencyIn: 500, sleep: [3]int64{50e3, 1.1e6, 10.1e6}}
	for _, tc := range []struct {
		name     string
		cpu      bool
		task     int64
		min, max int64
	}{
		{"1 ms tasks", true, ms, ms, ms + 60e3},
		{"100 ms tasks", true, 100 * ms, simPreempt, simPreempt + 60e3},
		{"sleeping tasks", false, ms, 4e3, 4e3 + 100},
	} {
		got := firstRoundTrip(t, simSetup{ranks: 2, perNode: 2, workers: 1, cpu: tc.cpu, tasks: 100, chunk: 1,
			dur: constant(tc.task), cost: c})
		if got < tc.min || got > tc.max {
			t.Errorf("%s: rank 1 waited %v for its first chunks, want %v to %v", tc.name, time.Duration(got),
				time.Duration(tc.min), time.Duration(tc.max))
		}
	}
}

func TestSimIdlePolls(t *testing.T) {
	// The idle driver polls back to back for spinFor, then wakes at the end
	// of each timer: 1 µs asked (sleep[0] here) until napFor, 1 ms asked
	// until dozeFor, then 10 ms.
	c := &simCost{poll: 100, sleep: [3]int64{1000, 1e6, 1e7}}
	r := &simRank{}
	spin := int64(spinFor)
	s := &sim{cost: c, spin: spin}
	for _, tc := range []struct{ at, want int64 }{
		{10, 100},
		{spin - 50, spin},
		{spin + 10_000, spin + 10*1100},
		{200 * ms, int64(napFor) + 100*(1e6+100)},
		{int64(dozeFor) + 5, int64(dozeFor) + 1e7 + 100},
	} {
		if got := r.pollAt(tc.at, s); got != tc.want {
			t.Errorf("a message at %d ns is seen at %d, want %d", tc.at, got, tc.want)
		}
	}
}

func TestSimFlatPeersAndResults(t *testing.T) {
	// Every result reaches its place (simulate checks each), under task
	// times that vary; flat dealing has rank 0 exchange with every rank.
	c := simCost{workerSend: 1500, workerSendPiece: 100, workerRecv: 1500, dealerRecv: 1500, dealerRecvPiece: 100,
		dealerSend: 1200, poll: 250, answerWaiting: 12, latencyIn: 300, latencyOut: 1200, byteIn: 0.05, byteOut: 0.04,
		sleep: [3]int64{1.1e6, 1.1e6, 10.3e6}, nicGap: 5, local: 500}
	res, err := simulate(simSetup{ranks: 300, perNode: 128, workers: 2, cpu: true, tasks: 30_000, chunk: 1,
		dur: lognormal(1e6, 1), cost: c})
	if err != nil {
		t.Fatal(err)
	}
	if res.maxPeers != 299 {
		t.Errorf("most peers %d, want 299", res.maxPeers)
	}
	if res.efficiency <= 0 || res.efficiency > 1 || res.steady <= 0 || res.steady > 1 {
		t.Errorf("efficiency %v, steady %v", res.efficiency, res.steady)
	}
}

func TestSimLeaders(t *testing.T) {
	// 12 ranks in nodes of 4: rank 0 exchanges with the 3 others of its
	// node and the 2 other leaders, a leader with its 3 ranks and rank 0.
	c := simCost{workerSend: 1500, workerRecv: 1500, dealerRecv: 1500, dealerSend: 1200, leaderRecv: 1500,
		poll: 250, latencyIn: 300, latencyOut: 1200, sleep: [3]int64{50e3, 1.1e6, 10.3e6}, local: 500}
	res, err := simulate(simSetup{ranks: 12, perNode: 4, workers: 2, cpu: true, tasks: 5000, chunk: 1,
		dur: lognormal(1e6, 1), cost: c, leaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.maxPeers != 5 {
		t.Errorf("most peers %d, want 5", res.maxPeers)
	}
	// Free messages and sleeping tasks: every goroutine busy to the end,
	// but for a task's time at most (a leader asks for its node as a whole,
	// and one of its ranks may take the last task late).
	for _, c := range []struct{ ranks, perNode, workers, n int }{{12, 4, 2, 2400}, {256, 64, 1, 12_800}, {10, 4, 3, 300}} {
		res, err := simulate(simSetup{ranks: c.ranks, perNode: c.perNode, workers: c.workers, tasks: c.n, chunk: 1,
			dur: constant(ms), leaders: true})
		if err != nil {
			t.Fatal(err)
		}
		slots := c.ranks * c.workers
		want := int64((c.n+slots-1)/slots) * ms
		if res.makespan < want || res.makespan > want+ms+int64(4*res.turns) {
			t.Errorf("%+v through leaders: makespan %v, want %v to %v", c, time.Duration(res.makespan), time.Duration(want),
				time.Duration(want+ms))
		}
	}
}

func TestSimLeaderFillsItsRanks(t *testing.T) {
	// A leader must hold enough for each rank of its node to keep a task
	// queued behind the one it runs: a rank handed one task at a time idles
	// a round trip to its leader per task. Here the round trip within a node
	// is 0.4 ms against 1 ms tasks, so that a leader that held just its
	// node's windows would leave its ranks idle more than a quarter of the
	// time; flat dealing, whose rank 0 holds everything, is the yardstick.
	c := simCost{latencyIn: 200e3, latencyOut: 200e3, poll: 100, sleep: [3]int64{1e3, 1e6, 1e7}}
	setup := simSetup{ranks: 32, perNode: 16, workers: 1, tasks: 32 * 100, chunk: 1, dur: constant(ms), cost: c}
	flat, err := simulate(setup)
	if err != nil {
		t.Fatal(err)
	}
	setup.leaders = true
	lead, err := simulate(setup)
	if err != nil {
		t.Fatal(err)
	}
	if flat.efficiency < 0.9 || lead.efficiency < flat.efficiency-0.05 {
		t.Errorf("efficiency %.3f through leaders, %.3f flat; want above 0.9, and leaders within 0.05 of flat", lead.efficiency, flat.efficiency)
	}
}
