package mpimap

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hpcmap/hpcmap/internal/codec"
)

// The simulator's costs: the CPU time of the real encoders, decoders and
// state machines, measured here in process, plus the MPI costs that
// bench/simcal measures on the real MPI, plus published figures for the
// network between nodes.

// machineCosts are the in-process costs of a map's messages, ns, each a
// base plus a cost per piece and per result where the message carries them.
type machineCosts struct {
	encReport, decReport, dealerReceive, workerNext [3]float64 // base, per piece, per result
	leaderReceive                                   [3]float64 // a node's report, through a leader's node dealer, its pieces merged
	local                                           [3]float64 // rank 0's own report, taken by its dealer
	encOrder, decOrder, answer, workerReceive       float64
	answerWaiting                                   float64 // per request d.answer passes over
	poll                                            float64 // the machines and pool of an iteration with nothing to do
}

// timeOp is the least time of op, in ns, over reps runs each long enough to
// measure; setup runs untimed before each run. The least, not the median:
// other work on a shared machine only ever adds time.
func timeOp(reps int, setup func(n int), op func(k int)) float64 {
	n := 1
	for {
		if setup != nil {
			setup(n)
		}
		start := time.Now()
		for k := range n {
			op(k)
		}
		if d := time.Since(start); d > 2*time.Millisecond || n >= 1<<24 {
			break
		}
		n *= 4
	}
	got := make([]float64, reps)
	for i := range got {
		if setup != nil {
			setup(n)
		}
		start := time.Now()
		for k := range n {
			op(k)
		}
		got[i] = float64(time.Since(start).Nanoseconds()) / float64(n)
	}
	return slices.Min(got)
}

// calMsg is a worker's report of pieces pieces of results results in all, as
// a worker gives it out.
func calReport(pieces, results int) *report[float64] {
	rep := &report[float64]{kind: kindResults, want: 2, slots: 1}
	for p := range pieces {
		k := results / pieces
		s := span{start: p * k, count: k, stride: 1, attempt: 1}
		vals := make([]float64, k)
		for j := range vals {
			vals[j] = simValue(s.at(j))
		}
		rep.pieces = append(rep.pieces, pieceDone[float64]{pieceReport: pieceReport{s: s, ran: k, rank: 1, host: "node-00001",
			took: time.Millisecond}, vals: vals})
	}
	return rep
}

// measureMachines times the real encoders, decoders and state machines.
func measureMachines(reps int) (machineCosts, error) {
	var m machineCosts
	c, err := codec.New[float64]()
	if err != nil {
		return m, err
	}
	const n = 1 << 20
	calDealer := func(ranks int) *dealer[float64] {
		cfg := newConfig([]Option{WithSchedule(Dynamic)})
		mon, _ := newMonitor(cfg, n, nil, 0)
		g := &gather[float64]{codec: c, results: make([]float64, n), mon: mon, run: &runner[float64]{}}
		workers := make([]int, ranks)
		for r := range workers {
			workers[r] = r
		}
		return newDealer(g, cfg, n, ranks, 0, workers, nil)
	}
	shapes := [3][2]int{{1, 1}, {16, 16}, {1, 256}} // pieces, results
	var enc, dec, recv, next, local, lead [3]float64
	buf := make([]byte, 0, 4096)
	for i, sh := range shapes {
		rep := calReport(sh[0], sh[1])
		enc[i] = timeOp(reps, nil, func(int) { buf = appendReport(buf[:0], 1, rep, c, "node-00001") })
		msg := append([]byte(nil), buf...)
		_, body, _ := sequence(msg)
		// As a map reads them: into the report of the last one.
		var into report[float64]
		dec[i] = timeOp(reps, nil, func(int) { into.read(body, n) })
		// The dealer takes in the decoded report: its results into their
		// places, the pieces to the monitor. Counts run negative, unseen.
		d := calDealer(2)
		decoded, err := readReport[float64](body, n)
		if err != nil {
			return m, err
		}
		decoded.want = 0
		recv[i] = timeOp(reps, nil, func(int) { d.receive(1, &decoded) })
		// A leader of 128 ranks takes it in: its node dealer settles the
		// pieces by handing them up (their results copied, not decoded),
		// and they merge, as its next report up merges them.
		members := make([]int, 128)
		for k := range members {
			members[k] = k + 1
		}
		cfg := newConfig([]Option{WithSchedule(Dynamic)})
		own := newWorker[float64](&fakeExec{}, 1, 1, nil, false, true)
		l := newLeader(cfg, 130, members, 128, own, false, c.Size())
		lead[i] = timeOp(reps, nil, func(int) {
			l.fromNode(2, &decoded)
			l.compact(l.up.ready)
			l.up.ready, l.up.readyHeld = l.up.ready[:0], 0 // as its next report up takes them
		})
		// Rank 0's own worker: its report straight to the dealer.
		d0 := calDealer(1)
		local[i] = timeOp(reps, func(int) {}, func(int) {
			own := calReport(sh[0], sh[1])
			own.want = 0
			d0.receive(0, own)
		}) - timeOp(reps, nil, func(int) { calReport(sh[0], sh[1]) })
		// A worker: finished pieces in, a report out, and the answer that
		// lets it ask again (timed apart below, and taken off).
		w := newWorker[float64](&fakeExec{}, 1, 1, nil, false, false)
		now := simBase
		pieces := calReport(sh[0], sh[1]).pieces
		chunks := order{kind: kindChunks, spans: []span{{0, 2, 1, 1}}}
		next[i] = timeOp(reps, nil, func(int) {
			w.done(pieces)
			w.next(now)
			w.receive(now, &chunks)
		})
	}
	w := newWorker[float64](&fakeExec{}, 1, 1, nil, false, false)
	chunks := order{kind: kindChunks, spans: []span{{0, 2, 1, 1}}}
	m.workerReceive = timeOp(reps, nil, func(int) { w.receive(simBase, &chunks) })
	for i := range next {
		next[i] -= m.workerReceive
	}
	m.encReport, m.decReport, m.dealerReceive, m.workerNext, m.local = fit(enc, shapes), fit(dec, shapes),
		fit(recv, shapes), fit(next, shapes), fit(local, shapes)
	m.leaderReceive = fit(lead, shapes)
	msg := appendOrder(nil, 1, &chunks)
	m.encOrder = timeOp(reps, nil, func(int) { buf = appendOrder(buf[:0], 1, &chunks) })
	m.decOrder = timeOp(reps, nil, func(int) { readOrder(msg[1:], n) })
	// A request in, its answer out.
	d := calDealer(2)
	req := &report[float64]{kind: kindResults, want: 1, slots: 1}
	m.answer = timeOp(reps, nil, func(int) {
		d.receive(1, req)
		d.answer()
		d.held[1] = 0
	})
	// Requests that stay waiting: rank 1 holds its fair share already.
	const waiting = 1000
	dw := calDealer(waiting + 1)
	for r := 1; r <= waiting; r++ {
		dw.receive(r, req)
		dw.held[r] = n
	}
	m.answerWaiting = timeOp(reps, nil, func(int) { dw.answer() }) / waiting
	// An iteration with nothing to do: the pool and the machines.
	idle := newWorker[float64](&fakeExec{}, 1, 1, nil, false, false)
	idle.next(simBase) // its request is out: next has nothing more to say
	p := &pool[float64]{queue: make(chan span, 1), done: make(chan pieceDone[float64], 3), workers: 1}
	m.poll = timeOp(reps, nil, func(int) {
		p.finished()
		idle.next(simBase)
	})
	return m, nil
}

// fit solves cost = a + b·pieces + c·results from the three shapes measured.
func fit(v [3]float64, shapes [3][2]int) [3]float64 {
	// shapes: (1,1), (p,p), (1,k): v1−v0 = (p−1)(b + c), v2−v0 = (k−1)c.
	c := (v[2] - v[0]) / float64(shapes[2][1]-shapes[0][1])
	b := (v[1]-v[0])/float64(shapes[1][0]-shapes[0][0]) - c
	c, b = math.Max(c, 0), math.Max(b, 0)
	return [3]float64{math.Max(v[0]-b-c, 0), b, c}
}

// mpiCosts are bench/simcal's figures, ns.
type mpiCosts map[string]float64

// readMPICosts reads "name value" lines.
func readMPICosts(r io.Reader) (mpiCosts, error) {
	m := mpiCosts{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		m[f[0]] = v
	}
	return m, sc.Err()
}

func readMPICostsFile(path string) (mpiCosts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readMPICosts(f)
}

// need returns the figures named, or an error naming those missing.
func (m mpiCosts) need(names ...string) ([]float64, error) {
	var out []float64
	var missing []string
	for _, n := range names {
		v, ok := m[n]
		if !ok || v <= 0 {
			missing = append(missing, n)
		}
		out = append(out, v)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("sim: calibration lacks %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// The network between nodes: InfiniBand HDR (200 Gb/s), as published.
// Latency and bandwidth: Azure HBv3 (HDR InfiniBand, non-blocking fat tree),
// "RDMA latency & bandwidth: 1.2 microseconds (1 byte), 192 Gb/s (one-way)"
// (learn.microsoft.com, HBv3-series performance); message rate: NVIDIA
// ConnectX-6, "215 million messages per second" (ConnectX-6 user manual,
// docs.nvidia.com).
const (
	hdrLatencyNs    = 1200
	hdrBytesPerNs   = 192.0 / 8 // 192 Gb/s
	hdrMessagesPerS = 215e6
)

// costModel combines the machines' costs and MPI's into the simulator's.
func costModel(mc machineCosts, mpi mpiCosts) (simCost, error) {
	v, err := mpi.need("pingpong8_ns", "pingpong1m_ns", "tryrecv_empty_ns", "tryrecv_msg_ns", "isend_ns",
		"sleep1us_ns", "sleep1ms_ns", "sleep10ms_ns")
	if err != nil {
		return simCost{}, err
	}
	pp8, pp1m, empty, recvMsg, isend := v[0], v[1], v[2], v[3], v[4]
	c := simCost{
		workerSend:       mc.workerNext[0] + mc.encReport[0] + isend,
		workerSendPiece:  mc.workerNext[1] + mc.encReport[1],
		workerSendResult: mc.workerNext[2] + mc.encReport[2],
		workerRecv:       recvMsg + mc.decOrder + mc.workerReceive,
		dealerRecv:       recvMsg + mc.decReport[0] + mc.dealerReceive[0],
		dealerRecvPiece:  mc.decReport[1] + mc.dealerReceive[1],
		dealerRecvResult: mc.decReport[2] + mc.dealerReceive[2],
		dealerSend:       mc.answer + mc.encOrder + isend,
		leaderRecv:       recvMsg + mc.decReport[0] + mc.leaderReceive[0],
		leaderRecvPiece:  mc.decReport[1] + mc.leaderReceive[1],
		leaderRecvResult: mc.decReport[2] + mc.leaderReceive[2],
		answerWaiting:    mc.answerWaiting,
		local:            mc.local[0],
		localPiece:       mc.local[1],
		localResult:      mc.local[2],
		poll:             empty + mc.poll,
		byteIn:           math.Max((pp1m-pp8)/2/float64(1<<20-8), 0),
		byteOut:          1 / hdrBytesPerNs,
		latencyOut:       hdrLatencyNs,
		nicGap:           int64(math.Round(1e9 / hdrMessagesPerS)),
		sleep:            [3]int64{int64(v[5]), int64(v[6]), int64(v[7])},
	}
	// The one-way time of a ping-pong, less the CPU at each end.
	c.latencyIn = int64(math.Max(pp8/2-isend-recvMsg, 100))
	return c, nil
}

// fields names the machines' costs for a file of them: a line per name,
// its values after it.
func (mc *machineCosts) fields() map[string][]*float64 {
	three := func(v *[3]float64) []*float64 { return []*float64{&v[0], &v[1], &v[2]} }
	return map[string][]*float64{
		"encReport": three(&mc.encReport), "decReport": three(&mc.decReport),
		"dealerReceive": three(&mc.dealerReceive), "workerNext": three(&mc.workerNext),
		"leaderForward": three(&mc.leaderReceive), "local": three(&mc.local),
		"encOrder": {&mc.encOrder}, "decOrder": {&mc.decOrder}, "answer": {&mc.answer},
		"workerReceive": {&mc.workerReceive}, "answerWaiting": {&mc.answerWaiting}, "poll": {&mc.poll},
	}
}

// writeMachineCosts keeps the machines' costs in path, for a run of make sim
// on a busy machine to reuse (SIM_REUSE).
func writeMachineCosts(path string, mc machineCosts) error {
	var b strings.Builder
	fields := mc.fields()
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		b.WriteString(name)
		for _, v := range fields[name] {
			fmt.Fprintf(&b, " %g", *v)
		}
		b.WriteString("\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// readMachineCosts reads what writeMachineCosts wrote; every cost must be
// there.
func readMachineCosts(path string) (machineCosts, error) {
	var mc machineCosts
	data, err := os.ReadFile(path)
	if err != nil {
		return mc, err
	}
	fields := mc.fields()
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		dst, ok := fields[f[0]]
		if !ok || len(f)-1 != len(dst) {
			return mc, fmt.Errorf("%s: %q is not a machine cost", path, line)
		}
		for i, s := range f[1:] {
			if *dst[i], err = strconv.ParseFloat(s, 64); err != nil {
				return mc, fmt.Errorf("%s: %q: %w", path, line, err)
			}
		}
		seen[f[0]] = true
	}
	if len(seen) != len(fields) {
		return mc, fmt.Errorf("%s: %d of %d machine costs", path, len(seen), len(fields))
	}
	return mc, nil
}
