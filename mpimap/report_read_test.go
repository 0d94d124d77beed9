package mpimap

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// Rank 0 and a leader read every report into the same report value: a
// report must not show what the one before it held, nor change the lists a
// dealer kept from it.
func TestReportReadReusesPieces(t *testing.T) {
	c := newCodec[float64](t)
	const n = 100
	busy := report[float64]{kind: kindFinal, want: 3, slots: 2, cause: "drained", loads: []rankLoad{{rank: 5, load: load{7, 2}}}}
	for k := range 3 {
		busy.pieces = append(busy.pieces, pieceDone[float64]{pieceReport: pieceReport{
			s: span{start: 10 * k, count: 2, stride: 1, attempt: 2}, ran: 2, rank: 5, host: "node-b", worker: 1,
			took: time.Millisecond, times: []int64{1, 2, 3, 4},
			fails: []failure{{index: 10 * k, attempt: 2, rank: 5, host: "node-b", err: errors.New("boom")}},
			logs:  []logRecord{{index: 10*k + 1, attempt: 2, msg: "hello"}},
		}, vals: []float64{1, 2}})
	}
	plain := report[float64]{kind: kindResults, want: 1, slots: 1, pieces: []pieceDone[float64]{{
		pieceReport: pieceReport{s: span{start: 50, count: 1, stride: 1, attempt: 1}, ran: 1, rank: 6, host: "node-c"},
		vals:        []float64{0.5}}}}

	var rep report[float64]
	if err := rep.read(body(t, appendReport(nil, 1, &busy, c, "node-b")), n); err != nil {
		t.Fatal(err)
	}
	kept := rep.pieces[0] // as a dealer may keep a piece's lists
	if err := rep.read(body(t, appendReport(nil, 1, &plain, c, "node-c")), n); err != nil {
		t.Fatal(err)
	}
	if rep.kind != kindResults || rep.want != 1 || rep.slots != 1 || rep.cause != "" || rep.loads != nil || len(rep.pieces) != 1 {
		t.Fatalf("read %+v after a final report, wrote %+v", rep, plain)
	}
	p := rep.pieces[0]
	if p.s != plain.pieces[0].s || p.rank != 6 || p.host != "node-c" || p.worker != 0 || p.took != 0 ||
		p.fails != nil || p.times != nil || p.logs != nil || len(p.payload) != 8 {
		t.Fatalf("read piece %+v after one with failures, times and logs; wrote %+v", p, plain.pieces[0])
	}
	if len(kept.fails) != 1 || kept.fails[0].index != 0 || kept.fails[0].err.Error() != "boom" ||
		!slices.Equal(kept.times, []int64{1, 2, 3, 4}) || len(kept.logs) != 1 || kept.logs[0].msg != "hello" {
		t.Fatalf("the next report changed the lists kept from a piece: %+v", kept.pieceReport)
	}

	// A malformed report leaves no pieces behind, for a caller that
	// looked at them regardless.
	msg := body(t, appendReport(nil, 1, &busy, c, "node-b"))
	if err := rep.read(msg[:len(msg)-3], n); err == nil || len(rep.pieces) != 0 {
		t.Fatalf("a truncated report read as %d pieces, error %v", len(rep.pieces), err)
	}
}

// A piece per task reaches rank 0 at 10,000 ranks: reading one, and settling
// one that no task of retries, allocates nothing.
func TestReportReadAndSettleAllocateNothingPerPiece(t *testing.T) {
	c := newCodec[float64](t)
	const n = 1 << 10
	sent := calReport(16, 16)
	msg := body(t, appendReport(nil, 1, sent, c, "node-00001"))
	var rep report[float64]
	if got := testing.AllocsPerRun(100, func() { rep.read(msg, n) }); got > 1 { // the report's hosts
		t.Errorf("reading a report of 16 pieces into the last one's: %.0f allocations, want 1", got)
	}
	cfg := newConfig([]Option{WithSchedule(Dynamic)})
	mon, err := newMonitor(cfg, n, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := &gather[float64]{codec: c, results: make([]float64, n), mon: mon, run: &runner[float64]{}}
	d := newDealer(g, cfg, n, 2, 0, []int{0, 1}, nil)
	rep.want = 0
	if got := testing.AllocsPerRun(100, func() { d.receive(1, &rep) }); got > 0 {
		t.Errorf("settling a report of 16 pieces: %.0f allocations, want 0", got)
	}
}
