package mpimap

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/codec"
)

// A leader merges the pieces of consecutive tasks that lose nothing by it,
// in task order, keeps the others as they came, and tallies each rank's
// share of the merged ones.
func TestLeaderMergesConsecutivePieces(t *testing.T) {
	l := newLeader[int64](config{chunk: 1, workers: 1}, 8, []int{4, 5, 6, 7}, 4, nil, false, 8)
	piece := func(rank, start, count int, took time.Duration) pieceDone[int64] {
		p := pieceDone[int64]{pieceReport: pieceReport{s: span{start: start, count: count, stride: 1, attempt: 1},
			ran: count, rank: rank, host: "h", worker: rank % 2, took: took}}
		for i := range count {
			p.payload = append(p.payload, byte(start+i), 0, 0, 0, 0, 0, 0, 0)
		}
		return p
	}
	failed := piece(6, 9, 1, time.Millisecond)
	failed.fails = []failure{{index: 9, attempt: 1, rank: 6, err: errors.New("x")}}
	logged := piece(5, 10, 1, time.Millisecond)
	logged.logs = []logRecord{{index: 10, attempt: 1}}
	part := piece(7, 11, 1, time.Millisecond)
	part.payload = []byte{} // its result travels apart
	short := piece(5, 12, 2, time.Millisecond)
	short.ran = 1 // stopped after its first task
	pieces := []pieceDone[int64]{
		piece(5, 2, 1, 3*time.Millisecond), failed, piece(6, 0, 2, 2*time.Millisecond), logged,
		piece(7, 3, 1, time.Millisecond), part, piece(5, 7, 1, time.Millisecond), short, piece(6, 8, 1, time.Millisecond),
	}
	got := l.compact(pieces)
	var spans []span
	for _, p := range got {
		spans = append(spans, p.s)
	}
	want := []span{failed.s, logged.s, part.s, short.s, {0, 4, 1, 1}, {7, 2, 1, 1}}
	if !slices.Equal(spans, want) {
		t.Fatalf("pieces %v, want %v", spans, want)
	}
	m := got[4]
	if !m.merged || m.ran != 4 || m.rank != 4 || len(m.payload) != 32 || m.payload[0] != 0 || m.payload[8] != 1 || m.payload[16] != 2 || m.payload[24] != 3 {
		t.Errorf("merged piece %+v", m)
	}
	tallies := l.tallyList()
	wantTallies := []rankTally{{5, "h", 2, 4 * time.Millisecond, 2}, {6, "h", 3, 3 * time.Millisecond, 1}, {7, "h", 1, time.Millisecond, 2}}
	if !slices.Equal(tallies, wantTallies) {
		t.Errorf("tallies %+v, want %+v", tallies, wantTallies)
	}
	if again := l.compact(got); len(again) != len(got) {
		t.Errorf("merged pieces merged again: %d pieces, then %d", len(got), len(again))
	}
}

// A merged piece and a leader's tallies cross ranks.
func TestMergedReportRoundTrip(t *testing.T) {
	rep := report[int64]{kind: kindFinal, pieces: []pieceDone[int64]{{pieceReport: pieceReport{s: span{0, 2, 1, 1}, ran: 2, rank: 4, host: "h", merged: true},
		payload: make([]byte, 16)}}, tallies: []rankTally{{5, "h", 2, time.Second, 3}}}
	c, _ := codec.New[int64]()
	msg := appendReport(nil, 1, &rep, c, "h")
	_, body, _ := sequence(msg)
	got, err := readReport[int64](body, 10)
	if err != nil || len(got.pieces) != 1 || !got.pieces[0].merged || !slices.Equal(got.tallies, rep.tallies) {
		t.Errorf("read back %+v, %v", got, err)
	}
}

// BenchmarkLeaderCompact merges a report of 128 pieces of one task each,
// from 128 ranks, in the order they finished: the cost a leader pays per
// piece (ns/op ÷ 128) to spare rank 0 all but one.
func BenchmarkLeaderCompact(b *testing.B) {
	members := make([]int, 128)
	for k := range members {
		members[k] = k + 1
	}
	l := newLeader[float64](config{chunk: 1, workers: 1}, 130, members, 128, nil, false, 8)
	pieces := make([]pieceDone[float64], 128)
	for k := range pieces {
		i := (k * 37) % 128 // finished out of order
		pieces[k] = pieceDone[float64]{pieceReport: pieceReport{s: span{start: i, count: 1, stride: 1, attempt: 1}, ran: 1,
			rank: members[i], host: "h", took: time.Millisecond}, payload: make([]byte, 8)}
	}
	for b.Loop() {
		if got := l.compact(pieces); len(got) != 1 {
			b.Fatalf("%d pieces", len(got))
		}
	}
}
