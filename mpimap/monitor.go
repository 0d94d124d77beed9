package mpimap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hpcmap/hpcmap/trace"
)

// monitor watches a map from rank 0: it reports progress, keeps the
// statistics and the trace, and writes the tasks' logs in argument order.
// Every finished piece passes through it once.
type monitor struct {
	n        int
	start    time.Time
	progress *progress
	stats    *stats
	trace    *traceFile
	logs     *logOrder
}

// newMonitor watches a map of n tasks, of which the journal holds those
// marked in journaled, resumed in all.
func newMonitor(cfg config, n int, journaled *bitset, resumed int) (*monitor, error) {
	mon := &monitor{n: n, start: time.Now(), logs: newLogOrder(cfg, n, journaled)}
	if cfg.progress != nil {
		mon.progress = newProgress(cfg.progress, n, resumed, cfg.journal)
	}
	if cfg.stats != nil {
		mon.stats = &stats{w: cfg.stats, resumed: resumed, ranks: map[int]*rankStats{}, loads: map[int]load{}}
	}
	if cfg.trace != "" {
		t, err := newTraceFile(cfg.trace)
		if err != nil {
			return nil, err
		}
		mon.trace = t
	}
	return mon, nil
}

// piece takes in a piece that rank ran on host; retried marks the failed
// tasks that will run again.
func (mon *monitor) piece(rank int, host string, p pieceReport, retried func(index int) bool) error {
	if mon.stats != nil {
		mon.stats.add(rank, host, p)
	}
	if mon.trace != nil {
		if err := mon.trace.add(rank, host, p); err != nil {
			return err
		}
	}
	return mon.logs.add(rank, host, p, retried)
}

// tally takes in what a rank ran of the pieces its leader merged.
func (mon *monitor) tally(t rankTally) {
	if mon.stats != nil {
		mon.stats.addTally(t)
	}
}

// load takes in how many map messages rank handled, and with how many
// ranks.
func (mon *monitor) load(rank int, l load) {
	if mon.stats != nil {
		mon.stats.loads[rank] = l
	}
}

// tick reports progress, at most as often as its writer wants it.
func (mon *monitor) tick(settled, failed int) {
	if mon.progress != nil {
		mon.progress.update(settled, failed, false)
	}
}

// close finishes every report once the map has ended.
func (mon *monitor) close(settled, failed int) error {
	if mon.progress != nil {
		mon.progress.update(settled, failed, true)
	}
	var err error
	if mon.stats != nil {
		err = mon.stats.write(time.Since(mon.start), mon.n)
	}
	if mon.trace != nil {
		err = errors.Join(err, mon.trace.close())
	}
	return errors.Join(err, mon.logs.flush())
}

// status is how an attempt of a task ended.
func status(p pieceReport, index int) trace.Status {
	for _, f := range p.fails {
		if f.index == index {
			if f.panic {
				return trace.StatusPanicked
			}
			return trace.StatusFailed
		}
	}
	return trace.StatusOK
}

// progress reports done/total, failures, rate and time left: on a terminal
// as one line redrawn in place, elsewhere (a batch log) as a plain line every
// tenth of the work or every 30 s, whichever comes first. Tasks resumed from
// a journal count as done but not towards the rate, which would otherwise
// promise a resumed map's end far too soon.
type progress struct {
	w        io.Writer
	n        int
	resumed  int
	terminal bool
	start    time.Time
	last     time.Time // of the last report
	lastDone int
}

// A terminal line is redrawn at most this often; a log line is written at
// least this often while work goes on.
const (
	redrawEvery = 100 * time.Millisecond
	logEvery    = 30 * time.Second
)

// newProgress reports on w the progress of a map of n tasks, resumed of
// which come from the journal at path, and says so at once.
func newProgress(w io.Writer, n, resumed int, journal string) *progress {
	p := &progress{w: w, n: n, resumed: resumed, start: time.Now(), terminal: isTerminal(w)}
	p.last, p.lastDone = p.start, resumed
	if resumed > 0 {
		fmt.Fprintf(p.w, "progress: %s from the journal %s\n", p.share(resumed), journal)
	}
	return p
}

// share is "done/n (P%)".
func (p *progress) share(done int) string {
	s := fmt.Sprintf("%d/%d", done, p.n)
	if p.n > 0 {
		s += fmt.Sprintf(" (%.0f%%)", 100*float64(done)/float64(p.n))
	}
	return s
}

func (p *progress) update(done, failed int, final bool) {
	now := time.Now()
	switch {
	case final && !p.terminal && done == p.lastDone && !p.last.Equal(p.start):
		return // the last line already said so
	case final:
	case p.terminal && now.Sub(p.last) < redrawEvery:
		return
	case !p.terminal && now.Sub(p.last) < logEvery && done*10/max(p.n, 1) == p.lastDone*10/max(p.n, 1):
		return // neither 30 s nor a further tenth of the work
	case done == p.lastDone && !p.terminal:
		return
	}
	p.last, p.lastDone = now, done
	elapsed := now.Sub(p.start)
	line := p.share(done)
	if failed > 0 {
		line += fmt.Sprintf(", %d failed", failed)
	}
	if ran := done - p.resumed; ran > 0 && elapsed > 0 {
		rate := float64(ran) / elapsed.Seconds()
		line += fmt.Sprintf(", %s tasks/s", humanRate(rate))
		if left := p.n - done; left > 0 && !final {
			line += ", " + roundLeft(time.Duration(float64(left)/rate*float64(time.Second))).String() + " left"
		}
	}
	line += ", " + roundLeft(elapsed).String() + " elapsed"
	if p.terminal {
		const width = 30
		filled := 0
		if p.n > 0 {
			filled = done * width / p.n
		}
		bar := "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "] "
		end := ""
		if final {
			end = "\n"
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s%s%s", bar, line, end)
		return
	}
	fmt.Fprintln(p.w, "progress:", line)
}

// isTerminal reports whether w is a terminal that a person watches. A
// character device is not enough: OpenMPI gives ranks a pseudo-terminal even
// when mpirun's own output goes to a batch job's log, so a Slurm job, no
// TERM, or an mpirun parent whose own stream is not a terminal means a log.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("SLURM_JOB_ID") != "" {
		return false
	}
	if term := os.Getenv("TERM"); term == "" || term == "dumb" {
		return false
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	// Open MPI gives its ranks a pseudo-terminal whatever mpirun's own
	// output is. A rank that mpirun started itself (on mpirun's node, where
	// rank 0 usually is) can see where its parent writes the same stream.
	if fd := f.Fd(); os.Getenv("OMPI_COMM_WORLD_SIZE") != "" && (fd == 1 || fd == 2) {
		parent, err := os.Stat(fmt.Sprintf("/proc/%d/fd/%d", os.Getppid(), fd))
		if err == nil && parent.Mode()&os.ModeCharDevice == 0 {
			return false
		}
	}
	return true
}

// roundLeft rounds a duration to what a person reads: tenths of a second
// below ten seconds, seconds above.
func roundLeft(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func humanRate(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.2fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	case r >= 10:
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// stats sums up, per rank, the tasks run and the time busy running them.
type stats struct {
	w       io.Writer
	resumed int // tasks the journal held, not run
	ranks   map[int]*rankStats
	loads   map[int]load // by rank: the map messages it handled
}

type rankStats struct {
	host    string
	tasks   int
	workers int // the most worker goroutines seen
	busy    time.Duration
}

func (s *stats) add(rank int, host string, p pieceReport) {
	if !p.merged { // its leader's tally says where its tasks ran
		s.addTally(rankTally{rank: rank, host: host, tasks: p.ran, busy: p.took, workers: p.worker + 1})
	}
}

func (s *stats) addTally(t rankTally) {
	rs := s.ranks[t.rank]
	if rs == nil {
		rs = &rankStats{host: t.host}
		s.ranks[t.rank] = rs
	}
	rs.tasks += t.tasks
	rs.busy += t.busy
	rs.workers = max(rs.workers, t.workers)
}

// write prints the table: per rank, then per host. Idle time is what the
// workers of a rank did not spend running tasks while the map ran. Shares
// are of the tasks this run had to run: n less the resumed ones.
func (s *stats) write(wall time.Duration, n int) error {
	resumed := s.resumed
	tw := tabwriter.NewWriter(s.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	share := func(tasks int) string {
		if n == resumed {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(tasks)/float64(n-resumed))
	}
	mean := func(busy time.Duration, tasks int) string {
		if tasks == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3g", busy.Seconds()*1e3/float64(tasks))
	}
	idle := func(busy time.Duration, workers int) (string, string) {
		total := wall * time.Duration(max(workers, 1))
		free := max(total-busy, 0)
		return fmt.Sprintf("%.3f", free.Seconds()), fmt.Sprintf("%.0f%%", 100*free.Seconds()/max(total.Seconds(), 1e-9))
	}
	row("rank", "host", "workers", "tasks", "share", "busy s", "ms/task", "idle s", "idle", "messages", "peers")
	type hostStats struct {
		ranks, tasks, workers int
		busy                  time.Duration
	}
	hosts := map[string]*hostStats{}
	for _, rank := range slices.Sorted(maps.Keys(s.ranks)) {
		rs := s.ranks[rank]
		is, ip := idle(rs.busy, rs.workers)
		l := s.loads[rank]
		row(strconv.Itoa(rank), rs.host, strconv.Itoa(rs.workers), strconv.Itoa(rs.tasks), share(rs.tasks),
			fmt.Sprintf("%.3f", rs.busy.Seconds()), mean(rs.busy, rs.tasks), is, ip,
			strconv.Itoa(l.messages), strconv.Itoa(l.peers))
		h := hosts[rs.host]
		if h == nil {
			h = &hostStats{}
			hosts[rs.host] = h
		}
		h.ranks++
		h.tasks += rs.tasks
		h.workers += rs.workers
		h.busy += rs.busy
	}
	row("", "", "", "", "", "", "", "", "", "", "")
	row("host", "ranks", "workers", "tasks", "share", "busy s", "ms/task", "idle s", "idle", "", "")
	for _, name := range slices.Sorted(maps.Keys(hosts)) {
		h := hosts[name]
		is, ip := idle(h.busy, h.workers)
		row(name, strconv.Itoa(h.ranks), strconv.Itoa(h.workers), strconv.Itoa(h.tasks), share(h.tasks),
			fmt.Sprintf("%.3f", h.busy.Seconds()), mean(h.busy, h.tasks), is, ip, "", "")
	}
	fmt.Fprintf(tw, "\nwall time %.3f s\n", wall.Seconds())
	if resumed > 0 {
		fmt.Fprintf(tw, "%d of the %d tasks came from the journal, not run\n", resumed, n)
	}
	return tw.Flush()
}

// traceFile writes a trace row per task attempt, through package trace,
// as pieces arrive. Rows wait in the writer's buffer at most
// traceFlushEvery, so that a trace read while the map runs, or after a kill,
// lacks at most the last second's rows.
type traceFile struct {
	mu     sync.Mutex // the map's loop adds rows, a timer flushes them
	f      *os.File
	w      *trace.Writer
	timer  *time.Timer // the flush due, if rows wait
	err    error       // of a flush on the timer, for the next add
	closed bool
}

// TraceHeader is the header of the CSV that WithTrace writes: trace.Header,
// which package trace owns with the rest of the format.
const TraceHeader = trace.Header

// traceFlushEvery bounds how long a row waits before it is written.
const traceFlushEvery = time.Second

// newTraceFile creates the trace at path and writes its header at once: an
// empty file is never a trace.
func newTraceFile(path string) (*traceFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("mpimap: trace: %w", err)
	}
	t := &traceFile{f: f, w: trace.NewWriter(f)}
	if err := t.w.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("mpimap: trace %s: %w", path, err)
	}
	return t, nil
}

func (t *traceFile) add(rank int, host string, p pieceReport) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	row := trace.Task{Rank: rank, Host: host, Worker: p.worker, Attempt: p.s.attempt}
	for k := range p.ran {
		row.Index = p.s.at(k)
		row.Start, row.End = 0, 0 // not timed: a rank that failed to say
		if 2*k+1 < len(p.times) {
			row.Start, row.End = float64(p.times[2*k])/1e9, float64(p.times[2*k+1])/1e9
		}
		row.Status = status(p, row.Index)
		if err := t.w.Write(row); err != nil {
			return fmt.Errorf("mpimap: trace: %w", err)
		}
	}
	if t.timer == nil && t.w.Buffered() > 0 {
		t.timer = time.AfterFunc(traceFlushEvery, t.flushDue)
	}
	return nil
}

// flushDue writes the rows waiting, on the timer's goroutine.
func (t *traceFile) flushDue() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.timer = nil
	if err := t.w.Flush(); err != nil && !t.closed && t.err == nil {
		t.err = fmt.Errorf("mpimap: trace: %w", err)
	}
}

func (t *traceFile) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
	}
	t.closed = true
	err := t.err
	if ferr := t.w.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("mpimap: trace: %w", ferr)
	}
	return errors.Join(err, t.f.Close())
}

// logOrder writes the tasks' log records to the handler in argument order:
// a task's records wait until every task before it is done, so that the log
// reads as if the tasks had run one after another. Streamed, they are
// written as they arrive instead.
type logOrder struct {
	h       slog.Handler
	stream  bool
	n       int
	done    *bitset // tasks whose outcome is final
	next    int     // the first task not yet done
	pending map[int][]slog.Record
}

func newLogOrder(cfg config, n int, journaled *bitset) *logOrder {
	h := cfg.logs
	if h == nil {
		h = slog.Default().Handler()
	}
	l := &logOrder{h: h, stream: cfg.streamLogs, n: n, done: newBitset(n), pending: map[int][]slog.Record{}}
	if journaled != nil {
		copy(l.done.words, journaled.words)
	}
	l.advance()
	return l
}

func (l *logOrder) add(rank int, host string, p pieceReport, retried func(int) bool) error {
	var err error
	for _, rec := range p.logs {
		r := rec.record(rank, host)
		if l.stream {
			err = errors.Join(err, l.emit(r))
			continue
		}
		l.pending[rec.index] = append(l.pending[rec.index], r)
	}
	for k := range p.ran {
		if i := p.s.at(k); !retried(i) {
			l.done.set(i)
		}
	}
	return errors.Join(err, l.advance())
}

// advance writes the records of the done tasks at the head of the order.
func (l *logOrder) advance() error {
	var err error
	for ; l.next < l.n && l.done.has(l.next); l.next++ {
		for _, r := range l.pending[l.next] {
			err = errors.Join(err, l.emit(r))
		}
		delete(l.pending, l.next)
	}
	return err
}

// flush writes what is left, in order, past the tasks that never ran.
func (l *logOrder) flush() error {
	var err error
	for _, i := range slices.SortedFunc(maps.Keys(l.pending), cmp.Compare[int]) {
		for _, r := range l.pending[i] {
			err = errors.Join(err, l.emit(r))
		}
	}
	clear(l.pending)
	return err
}

func (l *logOrder) emit(r slog.Record) error {
	if !l.h.Enabled(context.Background(), r.Level) {
		return nil
	}
	return l.h.Handle(context.Background(), r)
}
