package mpimap

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
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

func newFuzzMapper[R any](t testing.TB, n int) *mapper[int, R] {
	t.Helper()
	c, err := codec.New[R]()
	if err != nil {
		t.Fatal(err)
	}
	return &mapper[int, R]{n: n, codec: c, cfg: newConfig(nil)}
}

func encodeAll[R any](t testing.TB, c codec.Codec[R], vals []R) []byte {
	t.Helper()
	b, err := c.Append(nil, vals)
	if err != nil {
		t.Fatalf("encoding %d values of %T: %v", len(vals), vals, err)
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

// resultsSeeds are worker messages of a map of 40 tasks written by
// encodeResults, with values made by val.
func resultsSeeds[R any](t testing.TB, val func(i int) R) [][]byte {
	m := newFuzzMapper[R](t, 40)
	m.host = "node-7"
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	piece := func(s span, ran int, fails ...failure) pieceDone[R] {
		d := pieceDone[R]{s: s, ran: ran, worker: s.start % 3, took: time.Duration(ran) * time.Millisecond,
			vals: make([]R, s.count), fails: fails}
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
	msgs := []struct {
		kind   byte
		want   int
		pieces []pieceDone[R]
		cause  string
	}{
		{kindResults, 2, []pieceDone[R]{piece(span{0, 4, 1, 1}, 4)}, ""},
		{kindResults, 0, []pieceDone[R]{
			piece(span{10, 5, 3, 2}, 3, fails[0], fails[1]),
			piece(span{20, 3, 1, 1}, 0),
			piece(span{0, 3, 1, 1}, 3, fails[2]),
		}, ""},
		{kindResults, 7, nil, ""},
		{kindFinal, 0, nil, "rank 1: interrupt"},
		{kindFinal, 0, []pieceDone[R]{piece(span{39, 1, 1, 3}, 1), piece(span{1, 20, 2, 1}, 20)}, ""},
	}
	var out [][]byte
	for _, msg := range msgs {
		var w writer
		m.encodeResults(&w, msg.kind, msg.want, msg.pieces)
		if msg.kind == kindFinal {
			w.string(msg.cause)
		}
		out = append(out, w.b)
	}
	return out
}

// checkReadResults decodes msg as rank 0 does in a map of n tasks with
// results of type R, and checks what it accepts.
func checkReadResults[R any](t *testing.T, n int, msg []byte, lim allocLimit) {
	m := newFuzzMapper[R](t, n)
	results := make([]R, n)
	var (
		in  resultsMessage
		err error
	)
	checkAlloc(t, fmt.Sprintf("readResults[%T]", results), len(msg), lim, func() { in, err = m.readResults(msg, results) })
	if err != nil {
		return
	}
	written := make([]bool, n)
	for _, p := range in.pieces {
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
	pieces := make([]pieceDone[R], len(in.pieces))
	for k, p := range in.pieces {
		pieces[k] = pieceDone[R]{s: p.s, ran: p.ran, worker: p.worker, took: p.took, times: p.times,
			vals: make([]R, p.ran), fails: p.fails, logs: p.logs}
		for j := range p.ran {
			pieces[k].vals[j] = results[p.s.at(j)]
		}
	}
	kind := kindResults
	if in.final {
		kind = kindFinal
	}
	var w writer
	m.host = in.host
	m.encodeResults(&w, kind, in.want, pieces)
	if in.final {
		w.string(in.cause)
	}
	again := make([]R, n)
	in2, err := m.readResults(w.b, again)
	if err != nil {
		t.Fatalf("the re-encoded message of %+v does not decode: %v", in, err)
	}
	if !reflect.DeepEqual(in, in2) {
		t.Fatalf("decoded %+v, then %+v after encoding it again", in, in2)
	}
	if !bytes.Equal(encodeAll(t, m.codec, results), encodeAll(t, m.codec, again)) {
		t.Fatalf("results %v, then %v after encoding them again", results, again)
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
	m := newFuzzMapper[float64](f, n)
	f.Fuzz(func(t *testing.T, host string, worker uint16, took uint32, nanos, level int64, msg, key, value, errText string, zeroTime bool) {
		when := time.Unix(0, nanos)
		if zeroTime {
			when = time.Time{} // slog's "no time"
		}
		l := logRecord{index: 4, attempt: 2, time: when, level: slog.Level(level), msg: msg, attrs: []string{key, value}}
		d := pieceDone[float64]{
			s: span{start: 2, count: 3, stride: 2, attempt: 2}, ran: 2, worker: int(worker), took: time.Duration(took),
			times: []int64{int64(took), 2 * int64(took), 3 * int64(took), 4 * int64(took)},
			vals:  []float64{1.5, 0, 0},
			fails: []failure{{index: 4, attempt: 2, rank: 1, host: host, panic: true, err: errors.New(errText)}},
			logs:  []logRecord{l, l},
		}
		var w writer
		m.host = host
		m.encodeResults(&w, kindResults, 1, []pieceDone[float64]{d})
		results := make([]float64, n)
		in, err := m.readResults(w.b, results)
		if err != nil {
			t.Fatalf("rank 0 cannot read a worker's message (host %q, a log record at %v of level %d): %v", host, l.time, l.level, err)
		}
		if in.host != host || len(in.pieces) != 1 || results[2] != 1.5 {
			t.Fatalf("wrote host %q and one piece, read %+v with results %v", host, in, results)
		}
		p := in.pieces[0]
		if p.s != d.s || p.ran != d.ran || p.worker != d.worker || p.took != d.took || !slices.Equal(p.times, d.times) {
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
		if tag == tagToRoot {
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

// encodeRootMessage writes rm the way rank 0 does (answerWaiting, stop,
// abort and finish); TestEncodeRootMessage checks it against what rank 0
// sends.
func encodeRootMessage(rm rootMessage) []byte {
	var w writer
	w.byte(rm.kind)
	switch rm.kind {
	case kindChunks:
		w.uint(len(rm.spans))
		for _, s := range rm.spans {
			w.span(s)
		}
	case kindAbort:
		w.string(rm.text)
	case kindOutcome:
		w.uint(rm.outcome.notRun)
		w.uint(len(rm.outcome.causes))
		for _, c := range rm.outcome.causes {
			w.string(c)
		}
		w.uint(len(rm.fails))
		for _, f := range rm.fails {
			w.failure(f)
		}
	}
	return w.b
}

func TestEncodeRootMessage(t *testing.T) {
	for _, msg := range rootMessages(t) {
		rm, err := readFromRoot(msg, rootTasks)
		if err != nil {
			t.Fatalf("rank 0's message %x: %v", msg, err)
		}
		if got := encodeRootMessage(rm); !bytes.Equal(got, msg) {
			t.Errorf("rank 0 sent %x for %+v, encodeRootMessage writes %x", msg, rm, got)
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
			rm  rootMessage
			err error
		)
		checkAlloc(t, "readFromRoot", len(msg), wireLimit, func() { rm, err = readFromRoot(msg, n) })
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
		again, err := readFromRoot(encodeRootMessage(rm), n)
		if err != nil {
			t.Fatalf("the re-encoded message of %+v does not decode: %v", rm, err)
		}
		if !reflect.DeepEqual(rm, again) {
			t.Fatalf("decoded %+v, then %+v after encoding it again", rm, again)
		}
	})
}

// journalRecords are the records of a journal of n ≥ 10 tasks after its
// header, as journal.add writes them: some tasks twice (a retry's result
// after a resumed map's), and the last record torn.
func journalRecords[R any](t testing.TB, val func(i int) R) []byte {
	t.Helper()
	c, err := codec.New[R]()
	if err != nil {
		t.Fatal(err)
	}
	j := &journal[R]{codec: c}
	for _, i := range []int{0, 1, 2, 9, 5, 1, 3} {
		if err := j.add(i, []R{val(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return j.buf[:len(j.buf)-2]
}

func addJournalSeeds(f *testing.F) {
	f.Add(uint16(10), journalRecords(f, func(i int) float64 { return float64(i) / 3 }))
	f.Add(uint16(10), journalRecords(f, func(i int) string { return strings.Repeat("x", i) }))
	f.Add(uint16(3), journalRecords(f, func(i int) float64 { return float64(i) }))
	f.Add(uint16(10), []byte{})
}

// bytesJournal reads a journal's records, or a whole journal, from data.
func bytesJournal(data []byte) *journalReader {
	return newJournalReader(bytes.NewReader(data), int64(len(data)))
}

// FuzzScanJournal scans malformed journal records.
func FuzzScanJournal(f *testing.F) {
	addJournalSeeds(f)
	fc, err := codec.New[float64]()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, n16 uint16, data []byte) {
		n := fuzzTasks(n16)
		type record struct {
			index   int
			payload []byte
		}
		scan := func(data []byte, stopAt int) (recs []record, good int) {
			good = int(scanJournal(bytesJournal(data), n, func(index int, payload []byte) bool {
				if len(recs) == stopAt {
					return false
				}
				recs = append(recs, record{index, slices.Clone(payload)}) // payload is reused
				return true
			}))
			return recs, good
		}
		var (
			recs []record
			good int
		)
		checkAlloc(t, "scanJournal", len(data), wireLimit, func() { recs, good = scan(data, -1) })
		if good < 0 || good > len(data) || (good == 0) != (len(recs) == 0) {
			t.Fatalf("%d good bytes of %d, in %d records", good, len(data), len(recs))
		}
		for _, r := range recs {
			if r.index < 0 || r.index >= n {
				t.Fatalf("accepted a record of task %d in a journal of %d tasks", r.index, n)
			}
		}
		// The good records alone scan the same, and stopping early keeps
		// exactly the records before the stop.
		if again, g := scan(data[:good], -1); g != good || !reflect.DeepEqual(again, recs) {
			t.Fatalf("the first %d bytes scan to %d good bytes in %d records, not %d", good, g, len(again), len(recs))
		}
		half, g := scan(data, len(recs)/2)
		if again, g2 := scan(data[:g], -1); g2 != g || len(half) != len(recs)/2 || !reflect.DeepEqual(again, half) {
			t.Fatalf("stopping after %d of %d records kept %d bytes, that scan to %d records", len(recs)/2, len(recs), g, len(again))
		}
		if n == 0 {
			return
		}
		// Resuming drops what follows the good records and appends there: the
		// journal's writer's next record is read back after them.
		j := &journal[float64]{codec: fc, buf: slices.Clip(data[:good])}
		if err := j.add(n-1, []float64{-0.25}); err != nil {
			t.Fatal(err)
		}
		after, g := scan(j.buf, -1)
		if g != len(j.buf) || len(after) != len(recs)+1 || after[len(recs)].index != n-1 {
			t.Fatalf("after a record of task %d is appended to %d good bytes, %d of %d bytes scan to %d records", n-1, good, g, len(j.buf), len(after))
		}
		v := []float64{0}
		if err := fc.Decode(v, after[len(recs)].payload); err != nil || v[0] != -0.25 {
			t.Fatalf("the appended record reads back as %v (%v)", v[0], err)
		}
	})
}

// checkReadJournal reads journal records into results of type R of a map
// of n tasks, and checks that the journal's writer, given the tasks read,
// writes records that read back the same.
func checkReadJournal[R any](t *testing.T, n int, data []byte, lim allocLimit) {
	c, err := codec.New[R]()
	if err != nil {
		t.Fatal(err)
	}
	read := func(data []byte) ([]R, []bool, int, int) {
		results, done := make([]R, n), make([]bool, n)
		good, count := readJournal(bytesJournal(data), c, results, done)
		return results, done, int(good), count
	}
	var (
		results     []R
		done        []bool
		good, count int
	)
	checkAlloc(t, fmt.Sprintf("readJournal[%T]", results), len(data), lim, func() { results, done, good, count = read(data) })
	if good < 0 || good > len(data) {
		t.Fatalf("%d good bytes of %d", good, len(data))
	}
	var zero R
	tasks := 0
	for i, d := range done {
		if d {
			tasks++
		} else if !reflect.DeepEqual(results[i], zero) {
			t.Fatalf("task %d, not done, got result %v", i, results[i])
		}
	}
	if tasks != count {
		t.Fatalf("readJournal counted %d tasks, and marked %d done", count, tasks)
	}
	if g := int(scanJournal(bytesJournal(data[:good]), n, func(int, []byte) bool { return true })); g != good {
		t.Fatalf("readJournal kept %d bytes, of which %d are whole records", good, g)
	}
	j := &journal[R]{codec: c}
	for i, d := range done {
		if d {
			if err := j.add(i, results[i:i+1]); err != nil {
				t.Fatalf("journaling task %d: %v", i, err)
			}
		}
	}
	results2, done2, good2, count2 := read(j.buf)
	if good2 != len(j.buf) || count2 != count || !slices.Equal(done, done2) ||
		!bytes.Equal(encodeAll(t, c, results), encodeAll(t, c, results2)) {
		t.Fatalf("read %d tasks, %v; journaled again, %d of %d bytes read to %d tasks, %v",
			count, results, good2, len(j.buf), count2, results2)
	}
}

// FuzzReadJournal reads malformed journal records into results.
func FuzzReadJournal(f *testing.F) {
	addJournalSeeds(f)
	f.Fuzz(func(t *testing.T, n uint16, data []byte) {
		checkReadJournal[float64](t, fuzzTasks(n), data, wireLimit)
		checkReadJournal[string](t, fuzzTasks(n), data, gobLimit)
	})
}

// journalHeaders caches the header openJournal writes for n tasks.
var journalHeaders sync.Map // uint8 → []byte

// journalArgs are the arguments of a fuzzed journaled map of n tasks.
func journalArgs(n uint8) []int32 {
	args := make([]int32, n)
	for i := range args {
		args[i] = int32(i) * 7
	}
	return args
}

// journalHeader is the header that openJournal writes for a new journal of
// a map of n tasks with float64 results.
func journalHeader(t testing.TB, n uint8) []byte {
	t.Helper()
	if h, ok := journalHeaders.Load(n); ok {
		return h.([]byte)
	}
	path := filepath.Join(t.TempDir(), "journal")
	c, err := codec.New[float64]()
	if err != nil {
		t.Fatal(err)
	}
	j, _, _, err := openJournal(path, journalArgs(n), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.f.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	journalHeaders.Store(n, h)
	return h
}

// FuzzOpenJournal opens journals of malformed contents: after the header
// of this map's journal when header is set, else on their own.
func FuzzOpenJournal(f *testing.F) {
	for _, n := range []uint8{10, 3} {
		f.Add(n, true, journalRecords(f, func(i int) float64 { return float64(i) / 3 }))
		f.Add(n, true, []byte{})
	}
	f.Add(uint8(10), false, []byte{})
	f.Add(uint8(10), false, journalHeader(f, 11))              // another map's journal
	f.Add(uint8(10), false, journalHeader(f, 10)[:20])         // a torn header
	f.Add(uint8(10), false, []byte("#!/bin/sh\necho hello\n")) // not a journal
	c, err := codec.New[float64]()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, n uint8, header bool, data []byte) {
		args, hdr := journalArgs(n), journalHeader(t, n)
		content := data
		if header {
			content = append(slices.Clip(hdr), data...)
		}
		path := filepath.Join(t.TempDir(), "journal")
		results := make([]float64, n)
		var (
			j     *journal[float64]
			done  []bool
			count int
			err   error
		)
		open := func() { // again from the start when checkAlloc runs it twice
			if j != nil {
				j.f.Close()
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			j, done, count, err = openJournal(path, args, c, results)
		}
		checkAlloc(t, "openJournal", len(content), wireLimit, open)
		ours := len(content) == 0 || bytes.HasPrefix(content, hdr)
		if err != nil {
			if ours {
				t.Fatalf("refused this map's journal: %v", err)
			}
			if d := describeJournal(bytes.NewReader(content), int64(len(content))); !strings.Contains(err.Error(), d) {
				t.Fatalf("refused another journal with %q, which does not say %q", err, d)
			}
			return
		}
		defer j.f.Close()
		if !ours {
			t.Fatalf("accepted a journal that does not start with this map's header")
		}
		if tasks := len(slices.DeleteFunc(slices.Clone(done), func(d bool) bool { return !d })); len(done) != int(n) || tasks != count {
			t.Fatalf("%d tasks read, %d of %d marked done", count, tasks, len(done))
		}
		kept, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(content) == 0 && !bytes.Equal(kept, hdr) || len(content) > 0 && (len(kept) < len(hdr) || !bytes.HasPrefix(content, kept)) {
			t.Fatalf("a journal of %d bytes was left as %d bytes, not its header and records", len(content), len(kept))
		}
		if n == 0 {
			return
		}
		// A record written after resuming is read back on the next resume,
		// after the ones kept.
		i := int(n) - 1
		if err := j.add(i, []float64{-0.25}); err != nil {
			t.Fatal(err)
		}
		if err := j.flush(); err != nil {
			t.Fatal(err)
		}
		if err := j.f.Close(); err != nil {
			t.Fatal(err)
		}
		results2 := make([]float64, n)
		j2, done2, count2, err := openJournal(path, args, c, results2)
		if err != nil {
			t.Fatalf("reopening after a record was added: %v", err)
		}
		defer j2.f.Close()
		want := count
		if !done[i] {
			want++
		}
		done[i], results[i] = true, -0.25
		if count2 != want || !slices.Equal(done2, done) || !bytes.Equal(encodeAll(t, c, results2), encodeAll(t, c, results)) {
			t.Fatalf("after adding task %d to %d tasks %v, reopening read %d tasks %v", i, count, results, count2, results2)
		}
		st, err := j2.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() <= int64(len(kept)) {
			t.Fatalf("reopening dropped the added record: %d bytes, %d before it", st.Size(), len(kept))
		}
	})
}

// FuzzDescribeJournal describes malformed journal headers.
func FuzzDescribeJournal(f *testing.F) {
	f.Add(journalHeader(f, 10))
	f.Add(append(journalHeader(f, 3), journalRecords(f, func(i int) float64 { return float64(i) })...))
	f.Add(journalHeader(f, 10)[:30])
	f.Add([]byte(journalMagic))
	f.Add([]byte("hpcmap journal 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d string
		checkAlloc(t, "describeJournal", len(data), wireLimit, func() { d = describeJournal(bytes.NewReader(data), int64(len(data))) })
		switch {
		case !bytes.HasPrefix(data, []byte(journalMagic)):
			if d != "it is not an hpcmap journal" {
				t.Fatalf("described a file without the magic as %q", d)
			}
		case d == "its header is damaged":
		default:
			// The type's name is whatever bytes the header holds.
			tasks, rest, ok := strings.Cut(d, " tasks of results ")
			if n, err := strconv.Atoi(tasks); !ok || err != nil || n < 0 || !strings.HasSuffix(rest, ", or other arguments") {
				t.Fatalf("described a journal as %q", d)
			}
		}
		// The header of a map whose arguments are data, with any records
		// after it, describes that map.
		fp, err := journalFingerprint[byte, fuzzVec](data)
		if err != nil {
			t.Fatal(err)
		}
		w := writer{b: []byte(journalMagic)}
		w.bytes(fp)
		w.b = binary.LittleEndian.AppendUint32(w.b, crc32.ChecksumIEEE(w.b))
		w.b = append(w.b, data...)
		want := fmt.Sprintf("%d tasks of results %q, or other arguments", len(data), reflect.TypeFor[fuzzVec]().String())
		if got := describeJournal(bytes.NewReader(w.b), int64(len(w.b))); got != want {
			t.Fatalf("described the header of %d bytes of arguments as %q, want %q", len(data), got, want)
		}
	})
}
