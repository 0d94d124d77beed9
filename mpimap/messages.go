package mpimap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hpcmap/hpcmap/internal/codec"
	"github.com/hpcmap/hpcmap/mpi"
)

// The messages of a map, and every encoding of them. A worker sends its
// dealer reports on tagToDealer: results, with a request for more chunks; a
// final report when it is done; or word that it failed. A dealer sends its
// workers orders on tagToWorker: chunks (none when the supply is exhausted),
// stop, the outcome that ends the map, or abort.
//
// Every message begins with the sequence number of its map on the
// communicator (a uvarint), then its kind: a map discards the messages of an
// earlier one, which a failure may leave behind.
const (
	tagToDealer = mpi.ReservedTag
	tagToWorker = mpi.ReservedTag + 1
)

// Message kinds, the byte after the sequence number.
const (
	kindResults byte = iota + 1 // worker → dealer: pieces of results, and a request
	kindFinal                   // worker → dealer: last results; this rank is done
	kindChunks                  // dealer → worker: spans to run; none means no more
	kindStop                    // dealer → worker: stop starting tasks
	kindOutcome                 // dealer → worker: how the map ended
	kindAbort                   // dealer → worker: the map failed on rank 0
	kindFailed                  // worker → dealer: the map failed on that rank
)

// report is a worker's message to its dealer.
type report[R any] struct {
	kind   byte // kindResults, kindFinal or kindFailed
	want   int  // chunks requested
	slots  int  // the goroutines that run the sender's tasks
	pieces []pieceDone[R]
	cause  string     // kindFinal: why the rank stopped early; kindFailed: why it failed
	loads  []rankLoad // kindFinal: the map messages of the rank, and of its node's if it leads one
}

// load is how many map messages a rank handled and with how many ranks.
type load struct{ messages, peers int }

// rankLoad is a rank's load.
type rankLoad struct {
	rank int
	load
}

// order is a dealer's message to a worker.
type order struct {
	kind    byte
	spans   []span       // kindChunks: none means no more will come
	text    string       // kindAbort: what went wrong
	outcome interruption // kindOutcome
	fails   []failure    // kindOutcome: every task that failed
}

// appendReport appends rep, as the map of sequence seq sends it, to dst. The
// results of each piece are its payload if it has one (received from another
// rank), else its values encoded by c; values that cannot be encoded fail
// their tasks (see encodeValues).
func appendReport[R any](dst []byte, seq uint64, rep *report[R], c codec.Codec[R], host string) []byte {
	w := writer{b: dst}
	w.uint(int(seq))
	w.byte(rep.kind)
	if rep.kind == kindFailed {
		w.string(rep.cause)
		return w.b
	}
	w.uint(rep.want)
	w.uint(rep.slots)
	// The hosts of the pieces, each once: pieces name theirs by position.
	var hosts []string
	hostOf := func(h string) int {
		for i, x := range hosts {
			if x == h {
				return i
			}
		}
		hosts = append(hosts, h)
		return len(hosts) - 1
	}
	hostOf(host)
	for i := range rep.pieces {
		hostOf(rep.pieces[i].host)
	}
	w.uint(len(hosts))
	for _, h := range hosts {
		w.string(h)
	}
	w.uint(len(rep.pieces))
	for i := range rep.pieces {
		p := &rep.pieces[i]
		w.uint(p.rank)
		w.uint(hostOf(p.host))
		w.span(p.s)
		w.uint(p.ran)
		// The results, after a fixed-width length filled in once known, so
		// that they are encoded straight into the message.
		at := len(w.b)
		w.b = append(w.b, 0, 0, 0, 0, 0, 0, 0, 0)
		if p.payload != nil {
			w.b = append(w.b, p.payload...)
		} else {
			w.b, p.fails = encodeValues(w.b, p, c, partMin)
		}
		binary.LittleEndian.PutUint64(w.b[at:], uint64(len(w.b)-at-8))
		w.uint(len(p.fails))
		for _, f := range p.fails {
			w.failure(f)
		}
		w.uint(p.worker)
		w.uint(int(p.took))
		w.uint(len(p.times))
		for _, t := range p.times {
			w.uint(int(t))
		}
		w.uint(len(p.logs))
		for _, l := range p.logs {
			w.record(l)
		}
	}
	if rep.kind == kindFinal {
		w.string(rep.cause)
		w.uint(len(rep.loads))
		for _, l := range rep.loads {
			w.uint(l.rank)
			w.uint(l.messages)
			w.uint(l.peers)
		}
	}
	return w.b
}

// readReport decodes the body of a report (after its sequence number) of a
// map of n tasks. The pieces' payloads are slices of msg.
func readReport[R any](msg []byte, n int) (report[R], error) {
	var rep report[R]
	err := rep.read(msg, n)
	return rep, err
}

// minPieceBytes is the least a piece takes in a report: twelve one-byte
// varints and the fixed-width size of its results.
const minPieceBytes = 20

// read decodes the body of a report into rep, as readReport, reusing the
// memory of rep's pieces (not of their lists, which a dealer may keep):
// rank 0 and a leader read a piece per task, and allocating it was most of
// the cost of one.
func (rep *report[R]) read(msg []byte, n int) error {
	r := reader{b: msg}
	*rep = report[R]{kind: r.byte(), pieces: rep.pieces[:0]}
	switch rep.kind {
	case kindFailed:
		rep.cause = r.string()
		return r.done()
	case kindResults, kindFinal:
	default:
		return fmt.Errorf("unexpected message kind %d", rep.kind)
	}
	rep.want, rep.slots = r.uint(), r.uint()
	hosts := r.list()
	names := make([]string, 0, min(hosts, 64))
	for range hosts {
		if r.err != nil {
			break
		}
		names = append(names, r.string())
	}
	count := r.uint()
	if count > len(r.b)/minPieceBytes {
		r.fail(errShort)
	}
	if r.err == nil {
		rep.pieces = slices.Grow(rep.pieces, count)[:count]
		for i := range rep.pieces {
			p := &rep.pieces[i]
			*p = pieceDone[R]{}
			if p.payload = r.piece(&p.pieceReport, names, n); r.err != nil {
				break
			}
		}
	}
	if rep.kind == kindFinal {
		rep.cause = r.string()
		for range r.list() {
			if r.err != nil {
				break
			}
			rep.loads = append(rep.loads, rankLoad{rank: r.uint(), load: load{messages: r.uint(), peers: r.uint()}})
		}
	}
	if r.err != nil {
		rep.pieces = rep.pieces[:0]
	}
	return r.done()
}

// piece decodes a piece of a report, of a map of n tasks whose hosts are
// names, into p (zero), and returns its results' encoding. Its lists are
// mostly empty, and cost nothing then.
func (r *reader) piece(p *pieceReport, names []string, n int) (payload []byte) {
	p.rank, p.host = r.uint(), r.host(names)
	p.s, p.ran = r.span(n), r.uint()
	payload = r.sized()
	if k := r.list(); k > 0 {
		p.fails = make([]failure, 0, min(k, 64))
		for ; k > 0 && r.err == nil; k-- {
			p.fails = append(p.fails, r.failure(n))
		}
	}
	p.worker = r.uint()
	p.took = time.Duration(r.uint())
	if k := r.list(); k > 0 {
		p.times = make([]int64, 0, k)
		for ; k > 0 && r.err == nil; k-- {
			p.times = append(p.times, int64(r.uint()))
		}
	}
	if k := r.list(); k > 0 {
		p.logs = make([]logRecord, 0, min(k, 64))
		for ; k > 0 && r.err == nil; k-- {
			p.logs = append(p.logs, r.record(n))
		}
	}
	if r.err == nil && (p.ran > p.s.count || len(p.fails) > p.ran) {
		r.fail(fmt.Errorf("%d of %d tasks ran, %d failed", p.ran, p.s.count, len(p.fails)))
	}
	return payload
}

// appendOrder appends o, as the map of sequence seq sends it, to dst.
func appendOrder(dst []byte, seq uint64, o *order) []byte {
	w := writer{b: dst}
	w.uint(int(seq))
	w.byte(o.kind)
	switch o.kind {
	case kindChunks:
		w.uint(len(o.spans))
		for _, s := range o.spans {
			w.span(s)
		}
	case kindAbort:
		w.string(o.text)
	case kindOutcome:
		w.uint(o.outcome.notRun)
		w.uint(len(o.outcome.causes))
		for _, c := range o.outcome.causes {
			w.string(c)
		}
		w.uint(len(o.fails))
		for _, f := range o.fails {
			w.failure(f)
		}
	}
	return w.b
}

// readOrder decodes the body of an order (after its sequence number) of a
// map of n tasks.
func readOrder(msg []byte, n int) (order, error) {
	r := reader{b: msg}
	o := order{kind: r.byte()}
	switch o.kind {
	case kindChunks:
		r.each(r.list(), func() { o.spans = append(o.spans, r.span(n)) })
	case kindStop:
	case kindAbort:
		o.text = r.string()
	case kindOutcome:
		o.outcome = interruption{notRun: r.uint(), n: n}
		r.each(r.list(), func() { o.outcome.causes = append(o.outcome.causes, r.string()) })
		r.each(r.list(), func() { o.fails = append(o.fails, r.failure(n)) })
		if r.err == nil && (o.outcome.notRun > n || len(o.fails) > n) {
			r.fail(fmt.Errorf("outcome of %d tasks not run and %d failed in a map of %d", o.outcome.notRun, len(o.fails), n))
		}
	default:
		r.fail(fmt.Errorf("unknown message kind %d", o.kind))
	}
	return o, r.done()
}

// sequence splits a message into its map's sequence number and its body.
func sequence(msg []byte) (seq uint64, body []byte, ok bool) {
	r := reader{b: msg}
	s := r.uint()
	return uint64(s), r.b, r.err == nil
}

// encodeValues appends the encoding of p's results to dst, and returns p's
// failures with those of the results that cannot be encoded: such a value
// (an unregistered type in an interface) fails its task, not the map, and is
// sent as the zero value. Results that travel as memory, of big bytes or
// more (if big > 0), are left out of dst and added to p's parts instead
// (parts.go); a piece whose vals are a part keeps them until sent.
func encodeValues[R any](dst []byte, p *pieceDone[R], c codec.Codec[R], big int) ([]byte, []failure) {
	if c.Raw() {
		out, parts, _ := c.AppendHead(dst, p.vals[:p.ran], p.parts, big)
		if c.Fixed() && len(parts) > len(p.parts) {
			p.vals = nil // the part is their memory: not for reuse
		}
		p.parts = parts
		return out, p.fails
	}
	out, err := c.Append(dst, p.vals[:p.ran])
	if err == nil {
		return out, p.fails
	}
	fails := p.fails
	failed := func(i int) bool {
		for _, f := range fails {
			if f.index == i {
				return true
			}
		}
		return false
	}
	for k := range p.ran {
		if _, err := c.Append(nil, p.vals[k:k+1]); err != nil {
			clear(p.vals[k : k+1])
			fails = append(fails, p.failure(k, fmt.Errorf("mpimap: result of type %v cannot cross ranks: %w", typeName[R](), err)))
		}
	}
	if out, err = c.Append(dst, p.vals[:p.ran]); err != nil {
		// Values that fail only together: every task of the piece fails.
		for k := range p.ran {
			clear(p.vals[k : k+1])
			if !failed(p.s.at(k)) {
				fails = append(fails, p.failure(k, fmt.Errorf("mpimap: results of type %v cannot cross ranks: %w", typeName[R](), err)))
			}
		}
		out, _ = c.Append(dst, p.vals[:p.ran])
	}
	return out, fails
}

// failure is a task's error as it crosses ranks.
type failure struct {
	index   int
	attempt int
	rank    int
	host    string
	panic   bool
	err     error
}

func (f failure) taskError() *TaskError {
	return &TaskError{Index: f.index, Rank: f.rank, Host: f.host, Panic: f.panic, Err: f.err, Attempts: f.attempt}
}

// writer builds a message.
type writer struct{ b []byte }

func (w *writer) uint(v int)      { w.b = binary.AppendUvarint(w.b, uint64(v)) }
func (w *writer) int(v int64)     { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) byte(v byte)     { w.b = append(w.b, v) }
func (w *writer) bytes(v []byte)  { w.uint(len(v)); w.b = append(w.b, v...) }
func (w *writer) string(v string) { w.uint(len(v)); w.b = append(w.b, v...) }
func (w *writer) span(s span) {
	w.uint(s.start)
	w.uint(s.count)
	w.uint(s.stride)
	w.uint(s.attempt)
}
func (w *writer) bool(v bool) {
	if v {
		w.byte(1)
	} else {
		w.byte(0)
	}
}
func (w *writer) failure(f failure) {
	w.uint(f.index)
	w.uint(f.attempt)
	w.uint(f.rank)
	w.string(f.host)
	w.bool(f.panic)
	w.string(fmt.Sprint(f.err)) // as %v does: an Error method that panics says so
	w.uint(sentinelOf(f.err))
}

// record and reader.record carry a task's log record across ranks.
func (w *writer) record(l logRecord) {
	w.uint(l.index)
	w.uint(l.attempt)
	// Seconds and nanoseconds: UnixNano overflows for the zero time, which
	// a handler may be given.
	w.int(l.time.Unix())
	w.uint(l.time.Nanosecond())
	w.int(int64(l.level))
	w.string(l.msg)
	w.uint(len(l.attrs))
	for _, s := range l.attrs {
		w.string(s)
	}
}

// reader takes a message apart; the first malformed field sets err, and every
// later read returns zero values, so a decoder checks err once at the end.
type reader struct {
	b   []byte
	err error
}

var (
	errShort     = errors.New("message ends early")
	errBadRecord = errors.New("log record of a task outside the map, or with a dangling key")
)

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) uint() int {
	if len(r.b) > 0 && r.b[0] < 0x80 { // most are small: one byte
		v := r.b[0]
		r.b = r.b[1:]
		return int(v)
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<62 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *reader) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail(errShort)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) take(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte  { return r.take(r.uint()) }
func (r *reader) string() string { return string(r.bytes()) }
func (r *reader) bool() bool     { return r.byte() != 0 }

// sized reads bytes after a fixed-width length, as appendReport writes
// results.
func (r *reader) sized() []byte {
	n := r.take(8)
	if r.err != nil {
		return nil
	}
	size := binary.LittleEndian.Uint64(n)
	if size > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	return r.take(int(size))
}

// list reads the length of a list. Every element takes a byte at least, so
// a length beyond what is left is a lie, refused before anything is
// allocated for it.
func (r *reader) list() int {
	n := r.uint()
	if n > len(r.b) {
		r.fail(errShort)
		return 0
	}
	return n
}

// each calls read n times, or until the message turns out malformed: the one
// list reader of every decoder.
func (r *reader) each(n int, read func()) {
	for i := 0; i < n && r.err == nil; i++ {
		read()
	}
}

// span reads a span and checks that it lies inside [0, n).
func (r *reader) span(n int) span {
	s := span{start: r.uint(), count: r.uint(), stride: r.uint(), attempt: r.uint()}
	if r.err == nil && (s.count < 0 || s.stride < 1 || s.attempt < 1 || s.start >= n && s.count > 0 ||
		s.count > 0 && (s.count-1) > (n-1-s.start)/s.stride) {
		r.fail(fmt.Errorf("span %+v outside %d tasks", s, n))
	}
	return s
}

// host reads a position in names.
func (r *reader) host(names []string) string {
	i := r.uint()
	if r.err == nil && i >= len(names) {
		r.fail(fmt.Errorf("host %d of %d", i, len(names)))
		return ""
	}
	if r.err != nil {
		return ""
	}
	return names[i]
}

func (r *reader) failure(n int) failure {
	f := failure{index: r.uint(), attempt: r.uint(), rank: r.uint(), host: r.string(), panic: r.bool()}
	e := &remoteError{msg: r.string()}
	if k := r.uint(); k > 0 && k <= len(sentinels) {
		e.cause = sentinels[k-1]
	}
	f.err = e
	if r.err == nil && f.index >= n {
		r.fail(fmt.Errorf("failure of task %d outside %d tasks", f.index, n))
	}
	return f
}

func (r *reader) record(n int) logRecord {
	l := logRecord{index: r.uint(), attempt: r.uint()}
	sec, nsec := r.int(), r.uint()
	l.time = time.Unix(sec, int64(nsec)).UTC()
	l.level, l.msg = slog.Level(r.int()), r.string()
	r.each(r.list(), func() { l.attrs = append(l.attrs, r.string()) })
	if r.err == nil && (l.index >= n || len(l.attrs)%2 != 0) {
		r.fail(errBadRecord)
	}
	return l
}

// done checks that the whole message was read.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes left over", len(r.b))
	}
	return r.err
}
