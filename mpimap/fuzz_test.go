package mpimap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/codec"
	"github.com/hpcmap/hpcmap/mpi"
)

// The fuzz targets here feed malformed bytes to every decoder of what comes
// from another rank or from a journal. Each checks that the decoder neither
// panics nor allocates out of proportion to its input, and that what it
// accepts, encoded again by the real encoder, decodes to the same thing. The
// seeds are messages and journals written by the real encoders; plain go test
// runs them, and go test -fuzz explores from them.

// maxFuzzTasks bounds the tasks of a fuzzed map, and so the results slices
// the targets allocate for it.
const maxFuzzTasks = 1 << 12

func fuzzTasks(n uint16) int { return int(n) % (maxFuzzTasks + 1) }

// Allocation limits: slack plus perByte bytes per byte of input. Decoding
// gob values gets more of both: gob reads a message of up to 10 MiB that its
// length field announces in one allocation before it finds the input shorter
// (internal/saferio), and an element of one input byte can fill a large
// struct. Both stay bounded, which is what the limits check: a length field
// of 2^60 must be refused, not allocated.
const (
	wireSlack   = 1 << 20
	wirePerByte = 64
	gobSlack    = 24 << 20
	gobPerByte  = 256
)

type allocLimit struct{ slack, perByte uint64 }

var (
	wireLimit = allocLimit{wireSlack, wirePerByte}
	gobLimit  = allocLimit{gobSlack, gobPerByte}
)

// checkAlloc runs f and fails t if it allocated more than lim allows for
// input bytes. The cheap count, from runtime/metrics, takes in small
// allocations when their span is flushed, which can be a few MiB made before
// f when a collection starts during it; so a count over the limit is taken
// again, exactly, around a second run of f, with runtime.ReadMemStats (which
// flushes every cache first). f must allocate the same when run again.
func checkAlloc(t *testing.T, what string, input int, lim allocLimit, f func()) {
	t.Helper()
	max := lim.slack + lim.perByte*uint64(input)
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	if s[0].Value.Uint64()-before <= max {
		return
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	if got := m1.TotalAlloc - m0.TotalAlloc; got > max {
		t.Fatalf("%s allocated %d bytes for %d bytes of input (limit %d)", what, got, input, max)
	}
}

// fuzzVec is a fixed-size result of several fields without padding, so that
// its encoding is exactly its fields' bytes.
type fuzzVec struct {
	X, Y, Z float64
	ID      int64
	Tag     [4]int16
}

func newCodec[R any](t testing.TB) codec.Codec[R] {
	t.Helper()
	c, err := codec.New[R]()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func encodeAll[R any](t testing.TB, c codec.Codec[R], vals []R) []byte {
	t.Helper()
	b, err := c.Append(nil, vals)
	if err != nil {
		t.Fatalf("encoding %d values of %T: %v", len(vals), vals, err)
	}
	return b
}

// body is a message without its map's sequence number.
func body(t testing.TB, msg []byte) []byte {
	t.Helper()
	_, b, ok := sequence(msg)
	if !ok {
		t.Fatalf("message %x has no sequence number", msg)
	}
	return b
}

// fuzzFailures are task failures as workers report them, one of each kind
// of error text and sentinel.
func fuzzFailures() []failure {
	return []failure{
		{index: 13, attempt: 2, rank: 3, host: "node-3", err: fmt.Errorf("solver: %w", context.DeadlineExceeded)},
		{index: 16, attempt: 1, rank: 3, host: "node-3", panic: true, err: errors.New("runtime error: index out of range [5] with length 5\n\ngoroutine 7 [running]:")},
		{index: 2, attempt: 1, rank: 1, host: "", err: context.Canceled},
	}
}

// resultsSeeds are worker reports of a map of 40 tasks written by
// appendReport, with values made by val.
func resultsSeeds[R any](t testing.TB, val func(i int) R) [][]byte {
	c := newCodec[R](t)
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	piece := func(s span, ran int, fails ...failure) pieceDone[R] {
		d := pieceDone[R]{pieceReport: pieceReport{s: s, ran: ran, rank: 1 + s.start%2, host: fmt.Sprintf("node-%d", s.start%2),
			worker: s.start % 3, took: time.Duration(ran) * time.Millisecond, fails: fails}, vals: make([]R, s.count)}
		for k := range ran {
			i := s.at(k)
			d.vals[k] = val(i)
			d.times = append(d.times, int64(k)*1e6, int64(k)*1e6+5e5)
			if i%3 == 0 {
				d.logs = append(d.logs, logRecord{index: i, attempt: s.attempt, time: start.Add(time.Duration(i) * time.Second),
					level: slog.LevelWarn, msg: "slow convergence", attrs: []string{"iterations", "250", "solver.tol", "1e-9"}})
			}
		}
		return d
	}
	fails := fuzzFailures()
	reps := []report[R]{
		{kind: kindResults, want: 2, pieces: []pieceDone[R]{piece(span{0, 4, 1, 1}, 4)}},
		{kind: kindResults, pieces: []pieceDone[R]{
			piece(span{10, 5, 3, 2}, 3, fails[0], fails[1]),
			piece(span{20, 3, 1, 1}, 0),
			piece(span{0, 3, 1, 1}, 3, fails[2]),
		}},
		{kind: kindResults, want: 7},
		{kind: kindFinal, cause: "rank 1: interrupt", loads: []rankLoad{{1, load{messages: 12, peers: 1}}, {5, load{3, 1}}}},
		{kind: kindFinal, pieces: []pieceDone[R]{piece(span{39, 1, 1, 3}, 1), piece(span{1, 20, 2, 1}, 20)}},
		{kind: kindFailed, cause: "mpimap: malformed message from rank 0"},
	}
	var out [][]byte
	for i := range reps {
		out = append(out, body(t, appendReport(nil, 7, &reps[i], c, "node-7")))
	}
	return out
}

// checkReadResults decodes msg as rank 0 does in a map of n tasks with
// results of type R, and checks what it accepts.
func checkReadResults[R any](t *testing.T, n int, msg []byte, lim allocLimit) {
	c := newCodec[R](t)
	results := make([]R, n)
	var (
		rep report[R]
		err error
	)
	place := func() {
		if rep, err = readReport[R](msg, n); err != nil {
			return
		}
		g := gather[R]{codec: c, results: results}
		for i := range rep.pieces {
			if err = g.place(&rep.pieces[i]); err != nil {
				return
			}
		}
	}
	checkAlloc(t, fmt.Sprintf("readReport[%T]", results), len(msg), lim, place)
	if err != nil {
		return
	}
	written := make([]bool, n)
	for _, p := range rep.pieces {
		s := p.s
		if s.count < 0 || s.stride < 1 || s.attempt < 1 || p.ran < 0 || p.ran > s.count || len(p.fails) > p.ran ||
			s.count > 0 && (s.start < 0 || s.at(s.count-1) >= n) {
			t.Fatalf("accepted piece %+v (ran %d, %d failed) in a map of %d tasks", s, p.ran, len(p.fails), n)
		}
		for k := range p.ran {
			written[s.at(k)] = true
		}
		for _, f := range p.fails {
			if f.index < 0 || f.index >= n {
				t.Fatalf("accepted the failure of task %d in a map of %d tasks", f.index, n)
			}
		}
	}
	var zero R
	for i, w := range written {
		if !w && !reflect.DeepEqual(results[i], zero) {
			t.Fatalf("task %d, in no piece that ran, got result %v", i, results[i])
		}
	}

	// The worker's encoder, given what was decoded, writes a message that
	// decodes to the same. Where pieces overlap, the last one's values win
	// in both.
	again := rep
	again.pieces = make([]pieceDone[R], len(rep.pieces))
	for k, p := range rep.pieces {
		again.pieces[k] = pieceDone[R]{pieceReport: p.pieceReport, vals: make([]R, p.ran)}
		for j := range p.ran {
			again.pieces[k].vals[j] = results[p.s.at(j)]
		}
	}
	host := ""
	if len(rep.pieces) > 0 {
		host = rep.pieces[0].host
	}
	msg2 := body(t, appendReport(nil, 1, &again, c, host))
	rep2, err := readReport[R](msg2, n)
	if err != nil {
		t.Fatalf("the re-encoded message of %+v does not decode: %v", rep, err)
	}
	results2 := make([]R, n)
	g := gather[R]{codec: c, results: results2}
	for i := range rep2.pieces {
		if err := g.place(&rep2.pieces[i]); err != nil {
			t.Fatalf("the re-encoded results of %+v do not decode: %v", rep, err)
		}
	}
	for i := range rep.pieces {
		rep.pieces[i].payload, rep2.pieces[i].payload = nil, nil
	}
	if !reflect.DeepEqual(rep, rep2) {
		t.Fatalf("decoded %+v, then %+v after encoding it again", rep, rep2)
	}
	if !bytes.Equal(encodeAll(t, c, results), encodeAll(t, c, results2)) {
		t.Fatalf("results %v, then %v after encoding them again", results, results2)
	}
}

// FuzzReadResults decodes malformed worker messages with fixed-size results.
func FuzzReadResults(f *testing.F) {
	for _, msg := range resultsSeeds(f, func(i int) float64 { return float64(i) + 0.5 }) {
		f.Add(uint16(40), msg)
	}
	for _, msg := range resultsSeeds(f, func(i int) fuzzVec { return fuzzVec{X: float64(i), Y: -1, ID: int64(i), Tag: [4]int16{1, 2}} }) {
		f.Add(uint16(40), msg)
	}
	for _, msg := range resultsSeeds(f, func(int) struct{} { return struct{}{} }) {
		f.Add(uint16(40), msg)
	}
	f.Fuzz(func(t *testing.T, n uint16, msg []byte) {
		checkReadResults[float64](t, fuzzTasks(n), msg, wireLimit)
		checkReadResults[fuzzVec](t, fuzzTasks(n), msg, wireLimit)
		checkReadResults[struct{}](t, fuzzTasks(n), msg, wireLimit)
	})
}

// FuzzReadResultsGob decodes malformed worker messages with results that
// cross as gob.
func FuzzReadResultsGob(f *testing.F) {
	for _, msg := range resultsSeeds(f, func(i int) string { return strings.Repeat("ab", i%5) }) {
		f.Add(uint16(40), msg)
	}
	for _, msg := range resultsSeeds(f, func(i int) []float64 { return make([]float64, i%4) }) {
		f.Add(uint16(40), msg)
	}
	f.Fuzz(func(t *testing.T, n uint16, msg []byte) {
		checkReadResults[string](t, fuzzTasks(n), msg, gobLimit)
		checkReadResults[[]float64](t, fuzzTasks(n), msg, gobLimit)
	})
}

// FuzzEncodeResults writes a worker's message with fuzzed contents (host,
// timings, failures, log records) through the worker's encoder, and checks
// that rank 0 reads back what was written: whatever a task may log or fail
// with must cross.
func FuzzEncodeResults(f *testing.F) {
	f.Add("node-7", uint16(2), uint32(1500), int64(1740830400e9), int64(slog.LevelInfo), "solving", "tol", "1e-9", "boom", false)
	f.Add("", uint16(0), uint32(0), int64(0), int64(slog.LevelError), "", "", "", "", false)
	f.Add("n\x00\xff", uint16(65535), uint32(1<<31), int64(1<<62), int64(-64), "é", "a", "", "context deadline exceeded", false)
	const n = 10
	c := newCodec[float64](f)
	f.Fuzz(func(t *testing.T, host string, worker uint16, took uint32, nanos, level int64, msg, key, value, errText string, zeroTime bool) {
		when := time.Unix(0, nanos)
		if zeroTime {
			when = time.Time{} // slog's "no time"
		}
		l := logRecord{index: 4, attempt: 2, time: when, level: slog.Level(level), msg: msg, attrs: []string{key, value}}
		d := pieceDone[float64]{pieceReport: pieceReport{
			s: span{start: 2, count: 3, stride: 2, attempt: 2}, ran: 2, rank: 1, host: host, worker: int(worker), took: time.Duration(took),
			times: []int64{int64(took), 2 * int64(took), 3 * int64(took), 4 * int64(took)},
			fails: []failure{{index: 4, attempt: 2, rank: 1, host: host, panic: true, err: errors.New(errText)}},
			logs:  []logRecord{l, l},
		}, vals: []float64{1.5, 0, 0}}
		rep := report[float64]{kind: kindResults, want: 1, pieces: []pieceDone[float64]{d}}
		got, err := readReport[float64](body(t, appendReport(nil, 3, &rep, c, host)), n)
		if err != nil {
			t.Fatalf("rank 0 cannot read a worker's message (host %q, a log record at %v of level %d): %v", host, l.time, l.level, err)
		}
		results := make([]float64, n)
		g := gather[float64]{codec: c, results: results}
		if len(got.pieces) != 1 || g.place(&got.pieces[0]) != nil || results[2] != 1.5 {
			t.Fatalf("wrote one piece, read %+v with results %v", got, results)
		}
		p := got.pieces[0]
		if p.host != host || p.s != d.s || p.ran != d.ran || p.worker != d.worker || p.took != d.took || !slices.Equal(p.times, d.times) {
			t.Fatalf("wrote piece %+v, read %+v", d, p)
		}
		if len(p.fails) != 1 || p.fails[0].host != host || p.fails[0].err.Error() != errText || !p.fails[0].panic {
			t.Fatalf("wrote failure %+v, read %+v", d.fails, p.fails)
		}
		for _, got := range p.logs {
			if got.index != l.index || got.attempt != l.attempt || !got.time.Equal(l.time) || got.level != l.level ||
				got.msg != l.msg || !slices.Equal(got.attrs, l.attrs) {
				t.Fatalf("wrote log record %+v, read %+v", l, got)
			}
		}
		if len(p.logs) != 2 {
			t.Fatalf("wrote 2 log records, read %d", len(p.logs))
		}
	})
}

// tap is a Comm that shows the messages a rank receives from a Map's other
// ranks to see, and may change them first. Receiving goes through Recv at
// times and TryRecv at others; tap wraps both.
type tap struct {
	mpi.Comm
	see func(tag int, msg []byte) []byte
}

func (c tap) Recv(src, tag int) ([]byte, mpi.Status, error) {
	msg, st, err := c.Comm.Recv(src, tag)
	if err == nil {
		msg = c.see(st.Tag, msg)
	}
	return msg, st, err
}

func (c tap) TryRecv(dst []byte, src, tag int) ([]byte, mpi.Status, bool, error) {
	msg, st, ok, err := c.Comm.TryRecv(dst, src, tag)
	if ok && err == nil {
		msg = c.see(st.Tag, msg)
	}
	return msg, st, ok, err
}

// rootTasks is the number of tasks of the maps rootMessages runs.
const rootTasks = 30

// rootMessages are the messages rank 0 sends to rank 1 in maps of rootTasks
// tasks on two in-process ranks: chunks, with failures in the outcome; a stop
// and an interrupted outcome; and an abort, after rank 1's message is
// damaged on its way.
func rootMessages(t testing.TB) [][]byte {
	t.Helper()
	var (
		mu   sync.Mutex
		msgs [][]byte
	)
	keep := func(tag int, msg []byte) []byte {
		if tag == tagToWorker {
			_, n := binary.Uvarint(msg) // the map's sequence number
			mu.Lock()
			msgs = append(msgs, bytes.Clone(msg[n:]))
			mu.Unlock()
		}
		return msg
	}
	damage := func(tag int, msg []byte) []byte {
		if tag == tagToDealer {
			return append(slices.Clip(msg), 0) // one byte too many
		}
		return msg
	}
	task := func(ctx context.Context, i int) (float64, error) {
		switch i {
		case 4:
			return 0, fmt.Errorf("solver: %w", context.DeadlineExceeded)
		case 9:
			panic("index out of range")
		case 17:
			return 0, errors.New("no convergence")
		}
		return float64(i) / 2, nil
	}
	args := make([]int, rootTasks)
	for i := range args {
		args[i] = i
	}
	for _, run := range []struct {
		name   string
		cancel bool                             // rank 0's context is cancelled
		see0   func(tag int, msg []byte) []byte // what rank 0 receives
		opts   []Option
	}{
		{"failures", false, nil, []Option{WithSchedule(Dynamic), WithChunk(3)}},
		{"interrupted", true, nil, nil},
		{"aborted", false, damage, nil},
	} {
		err := mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
			if c.Rank() == 1 {
				c = &tap{c, keep}
			} else {
				if run.see0 != nil {
					c = &tap{c, run.see0}
				}
				if run.cancel {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					cancel()
				}
			}
			if _, err := Map(ctx, c, args, task, run.opts...); err == nil {
				return fmt.Errorf("%s: rank %d: Map succeeded", run.name, c.Rank())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	kinds := map[byte]bool{}
	for _, msg := range msgs {
		kinds[msg[0]] = true
	}
	for _, k := range []byte{kindChunks, kindStop, kindAbort, kindOutcome} {
		if !kinds[k] {
			t.Fatalf("rank 1 received no message of kind %d among %d", k, len(msgs))
		}
	}
	return msgs
}

func TestEncodeRootMessage(t *testing.T) {
	for _, msg := range rootMessages(t) {
		o, err := readOrder(msg, rootTasks)
		if err != nil {
			t.Fatalf("rank 0's message %x: %v", msg, err)
		}
		if got := body(t, appendOrder(nil, 1, &o)); !bytes.Equal(got, msg) {
			t.Errorf("rank 0 sent %x for %+v, appendOrder writes %x", msg, o, got)
		}
	}
}

// FuzzReadFromRoot decodes malformed messages from rank 0.
func FuzzReadFromRoot(f *testing.F) {
	for _, msg := range rootMessages(f) {
		f.Add(uint16(rootTasks), msg)
	}
	f.Fuzz(func(t *testing.T, n16 uint16, msg []byte) {
		n := fuzzTasks(n16)
		var (
			rm  order
			err error
		)
		checkAlloc(t, "readOrder", len(msg), wireLimit, func() { rm, err = readOrder(msg, n) })
		if err != nil {
			return
		}
		switch rm.kind {
		case kindChunks, kindStop, kindAbort, kindOutcome:
		default:
			t.Fatalf("accepted a message of kind %d", rm.kind)
		}
		for _, s := range rm.spans {
			if s.count < 0 || s.stride < 1 || s.attempt < 1 || s.count > 0 && (s.start < 0 || s.at(s.count-1) >= n) {
				t.Fatalf("accepted span %+v in a map of %d tasks", s, n)
			}
		}
		for _, f := range rm.fails {
			if f.index < 0 || f.index >= n {
				t.Fatalf("accepted the failure of task %d in a map of %d tasks", f.index, n)
			}
		}
		if o := rm.outcome; rm.kind == kindOutcome && (o.notRun < 0 || o.notRun > n || o.n != n) {
			t.Fatalf("accepted outcome %+v in a map of %d tasks", o, n)
		}
		again, err := readOrder(body(t, appendOrder(nil, 1, &rm)), n)
		if err != nil {
			t.Fatalf("the re-encoded message of %+v does not decode: %v", rm, err)
		}
		if !reflect.DeepEqual(rm, again) {
			t.Fatalf("decoded %+v, then %+v after encoding it again", rm, again)
		}
	})
}
