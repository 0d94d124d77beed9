package mpimap

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// The dealer and the worker alone, with no communicator: scripted messages
// in, and what they give out checked.

// fakeExec is an executor that runs nothing: it counts what it holds.
type fakeExec struct {
	spans     []span
	heldTasks int
	stopped   bool
	abandoned bool
}

func (f *fakeExec) add(s span) { f.spans = append(f.spans, s); f.heldTasks += s.count }
func (f *fakeExec) held() int  { return f.heldTasks }
func (f *fakeExec) stop()      { f.stopped = true }
func (f *fakeExec) abandon()   { f.abandoned, f.heldTasks = true, 0 }

// finish is the piece of s as the executor would return it, every task run,
// those in failed failing.
func (f *fakeExec) finish(s span, rank int, failed ...int) pieceDone[int] {
	f.heldTasks -= s.count
	p := pieceDone[int]{pieceReport: pieceReport{s: s, ran: s.count, rank: rank, host: "h"}, vals: make([]int, s.count)}
	for k := range s.count {
		p.vals[k] = s.at(k) * 10
		if slices.Contains(failed, s.at(k)) {
			p.fails = append(p.fails, p.failure(k, errors.New("bad")))
		}
	}
	return p
}

func testDealer(t *testing.T, n, np int, opts ...Option) (*dealer[int], *gather[int]) {
	t.Helper()
	cfg := newConfig(opts)
	mon, err := newMonitor(cfg, n, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := &gather[int]{results: make([]int, n), mon: mon, run: &runner[int]{}}
	workers := make([]int, np)
	for r := range workers {
		workers[r] = r
	}
	return newDealer(g, cfg, n, np, 0, workers, nil), g
}

func request(want int) *report[int] { return &report[int]{kind: kindResults, want: want} }

func spansTo(t *testing.T, envs []envelope, rank int) []span {
	t.Helper()
	for _, e := range envs {
		if e.to == rank {
			if e.o.kind != kindChunks {
				t.Fatalf("rank %d got an order of kind %d, want chunks", rank, e.o.kind)
			}
			return e.o.spans
		}
	}
	t.Fatalf("no order for rank %d among %+v", rank, envs)
	return nil
}

func TestDealerAnswersInTheOrderAsked(t *testing.T) {
	d, _ := testDealer(t, 100, 3, WithSchedule(Dynamic), WithChunk(2))
	d.receive(2, request(1))
	d.receive(1, request(3))
	envs := d.answer()
	if len(envs) != 2 || envs[0].to != 2 || envs[1].to != 1 {
		t.Fatalf("answered %+v, want rank 2 then rank 1", envs)
	}
	if got := spansTo(t, envs, 2); !slices.Equal(got, []span{{0, 2, 1, 1}}) {
		t.Errorf("rank 2 got %v, want the first chunk", got)
	}
	// Three chunks in a row join into one span.
	if got := spansTo(t, envs, 1); !slices.Equal(got, []span{{2, 6, 1, 1}}) {
		t.Errorf("rank 1 got %v, want the next three chunks as one span", got)
	}
	if len(d.answer()) != 0 {
		t.Errorf("a request was answered twice")
	}
}

func TestDealerFairShare(t *testing.T) {
	// 20 tasks, 2 ranks: a rank may hold at most (20)/(2·2) = 5 at a time,
	// however many it asks for.
	d, _ := testDealer(t, 20, 2, WithSchedule(Dynamic))
	d.receive(1, request(100))
	if got := spansTo(t, d.answer(), 1); len(got) != 1 || got[0].count != 5 {
		t.Fatalf("rank 1 asking for 100 got %v, want 5 tasks", got)
	}
}

func TestDealerStopAndLateResults(t *testing.T) {
	d, g := testDealer(t, 10, 2, WithSchedule(Dynamic), WithChunk(3))
	exec := &fakeExec{}
	d.receive(1, request(1))
	s := spansTo(t, d.answer(), 1)[0]
	exec.add(s)
	stops := d.stop("rank 0: interrupt")
	if len(stops) != 2 || stops[0].o.kind != kindStop || stops[1].o.kind != kindStop {
		t.Fatalf("stop gave %+v, want a stop for ranks 0 and 1", stops)
	}
	// Results that were under way when the stop went out still count; a
	// request is answered with no chunks: the word to finish.
	if err := d.receive(1, &report[int]{kind: kindResults, want: 1, pieces: []pieceDone[int]{exec.finish(s, 1)}}); err != nil {
		t.Fatal(err)
	}
	if got := spansTo(t, d.answer(), 1); len(got) != 0 {
		t.Fatalf("after the stop rank 1 got %v, want no chunks", got)
	}
	if g.results[s.start] != s.start*10 {
		t.Errorf("the late result of task %d is lost", s.start)
	}
	d.receive(0, &report[int]{kind: kindFinal, cause: "stopped by rank 0"})
	d.receive(1, &report[int]{kind: kindFinal})
	if !d.finished() {
		t.Fatalf("every rank sent its final report after the stop, and the map is not over")
	}
	o := d.outcome()
	if o.outcome.notRun != 10-s.count || len(o.outcome.causes) != 2 {
		t.Errorf("outcome %+v, want %d tasks not run and both causes", o.outcome, 10-s.count)
	}
}

func TestDealerRetriesElsewhere(t *testing.T) {
	d, _ := testDealer(t, 4, 3, WithSchedule(Dynamic), WithRetries(1), WithChunk(4))
	d.receive(1, request(1))
	s := spansTo(t, d.answer(), 1)[0]
	exec := &fakeExec{}
	exec.add(s)
	d.receive(1, &report[int]{kind: kindResults, want: 1, pieces: []pieceDone[int]{exec.finish(s, 1, 2)}})
	// Rank 1, where task 2 failed, is not given it again; its request waits
	// while the task may fail again and need another rank.
	if envs := d.answer(); len(envs) != 0 {
		t.Fatalf("rank 1 got %+v", envs)
	}
	d.receive(2, request(1))
	envs := d.answer()
	if got := spansTo(t, envs, 2); !slices.Equal(got, []span{{2, 1, 1, 2}}) {
		t.Fatalf("rank 2 got %v, want task 2's second attempt", got)
	}
	for _, e := range envs {
		if e.to == 1 {
			t.Fatalf("rank 1 was answered while the retry was out: %+v", e)
		}
	}
	// The second attempt fails too: final, and now rank 1 hears there is
	// nothing more.
	retried := span{2, 1, 1, 2}
	exec.add(retried)
	d.receive(2, &report[int]{kind: kindResults, pieces: []pieceDone[int]{exec.finish(retried, 2, 2)}})
	if got := spansTo(t, d.answer(), 1); len(got) != 0 {
		t.Fatalf("rank 1 got %v, want no chunks", got)
	}
	if len(d.fails) != 1 || d.fails[0].index != 2 || d.fails[0].attempt != 2 || d.fails[0].rank != 2 {
		t.Errorf("failures %+v, want task 2 failed at its second attempt on rank 2", d.fails)
	}
}

func TestDealerRefusesAFailedRank(t *testing.T) {
	d, _ := testDealer(t, 4, 2)
	err := d.receive(1, &report[int]{kind: kindFailed, cause: "out of memory"})
	if err == nil || err.Error() != "mpimap: the map failed on rank 1: out of memory" {
		t.Fatalf("got %v", err)
	}
}

func TestWorkerAsksRunsAndReports(t *testing.T) {
	exec := &fakeExec{}
	w := newWorker[int](exec, 2, 1, nil, false, false)
	now := time.Now()
	rep := w.next(now)
	if rep == nil || rep.kind != kindResults || rep.want != 4 || len(rep.pieces) != 0 {
		t.Fatalf("first report %+v, want a request for 2·workers·chunk = 4 chunks", rep)
	}
	if w.next(now) != nil {
		t.Fatalf("a second request went out before the first was answered")
	}
	now = now.Add(100 * time.Microsecond)
	if err := w.receive(now, &order{kind: kindChunks, spans: []span{{0, 4, 1, 1}}}); err != nil {
		t.Fatal(err)
	}
	if len(exec.spans) != 1 || exec.held() != 4 {
		t.Fatalf("the executor holds %v", exec.spans)
	}
	w.done([]pieceDone[int]{exec.finish(span{0, 2, 1, 1}, 1)})
	rep = w.next(now)
	if rep == nil || len(rep.pieces) != 1 || rep.want == 0 {
		t.Fatalf("after a piece: %+v, want its results with a request", rep)
	}
	// While that request is out, the next results wait (a message per round
	// trip), but not longer than holdFor.
	w.done([]pieceDone[int]{exec.finish(span{2, 2, 1, 1}, 1)})
	if rep := w.next(now); rep != nil {
		t.Fatalf("results went out while a request was on its way: %+v", rep)
	}
	if rep := w.next(now.Add(2 * holdFor)); rep == nil || len(rep.pieces) != 1 {
		t.Fatalf("results held past holdFor: %+v", rep)
	}
	// No more chunks: the final report, once.
	w.receive(now, &order{kind: kindChunks})
	rep = w.next(now)
	if rep == nil || rep.kind != kindFinal || rep.cause != "" {
		t.Fatalf("after the supply ran out: %+v, want the final report", rep)
	}
	if w.next(now) != nil {
		t.Fatalf("a report after the final one")
	}
}

func TestWorkerLocalHoldsNothing(t *testing.T) {
	exec := &fakeExec{}
	w := newWorker[int](exec, 1, 1, nil, false, true)
	now := time.Now()
	w.next(now) // the request
	w.receive(now, &order{kind: kindChunks, spans: []span{{0, 2, 1, 1}}})
	w.next(now) // another request, with no results
	w.done([]pieceDone[int]{exec.finish(span{0, 1, 1, 1}, 0)})
	if rep := w.next(now); rep == nil || len(rep.pieces) != 1 {
		t.Fatalf("rank 0's own worker held results back: %+v", rep)
	}
}

func TestWorkerStopDrainsThenAbandons(t *testing.T) {
	exec := &fakeExec{}
	share := span{0, 10, 1, 1}
	w := newWorker[int](exec, 2, 1, &share, false, false)
	now := time.Now()
	if err := w.receive(now, &order{kind: kindStop}); err != nil {
		t.Fatal(err)
	}
	if !exec.stopped {
		t.Fatalf("a stop did not stop the executor")
	}
	if rep := w.next(now); rep != nil {
		t.Fatalf("a report while tasks run after the stop: %+v", rep)
	}
	rep := w.next(now.Add(drainGrace + time.Second))
	if !exec.abandoned || rep == nil || rep.kind != kindFinal || rep.cause != "stopped by rank 0" {
		t.Fatalf("past the drain's grace: abandoned %v, report %+v", exec.abandoned, rep)
	}
}

func TestWorkerAbortAndUnexpected(t *testing.T) {
	w := newWorker[int](&fakeExec{}, 1, 1, nil, false, false)
	err := w.receive(time.Now(), &order{kind: kindAbort, text: "the map failed on rank 0: journal: disk full"})
	if err == nil || err.Error() != "mpimap: the map failed on rank 0: journal: disk full" {
		t.Fatalf("abort: got %v", err)
	}
	if err := w.receive(time.Now(), &order{kind: kindOutcome}); err == nil {
		t.Fatalf("an outcome in the middle of the map was taken")
	}
}
