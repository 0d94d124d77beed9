package mpimap

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	agreeing "github.com/hpcmap/hpcmap/internal/agree"
	"github.com/hpcmap/hpcmap/internal/claim"
	"github.com/hpcmap/hpcmap/internal/codec"
	"github.com/hpcmap/hpcmap/mpi"
)

// Map calls fn on every element of args, spread over the ranks of c and over
// goroutines inside each rank. It is collective: every rank calls it with the
// same args and options.
//
// Rank 0 returns one result per argument, in argument order (the zero value
// where the task failed or did not run); other ranks return nil. Every rank
// returns a non-nil error if and only if some task failed or the map could not
// run, so that SPMD control flow stays in step. Task failures and panics are
// *TaskError values joined with errors.Join; the other tasks still run and
// keep their results. When ctx is cancelled, no new task starts, the tasks
// running finish, and every rank returns an error wrapping ErrInterrupted; the
// results computed are kept.
//
// Only the goroutine that calls Map communicates; fn runs on other goroutines
// and must not call MPI. Results cross ranks as raw memory when R is
// fixed-size (numbers, bools, arrays and structs of them) and through
// encoding/gob otherwise; a type that cannot cross is an error before any task
// runs.
func Map[T, R any](ctx context.Context, c mpi.Comm, args []T, fn func(ctx context.Context, arg T) (R, error), opts ...Option) ([]R, error) {
	return execute(ctx, c, argsJob[T, R](args, fn, "Map"), nil, opts)
}

// MapN is Map over the task indices 0..n-1: fn computes each task's input
// from its index (as Grid numbers its points), so no rank holds an argument
// slice. A journal's fingerprint is then n, the result type and the key.
func MapN[R any](ctx context.Context, c mpi.Comm, n int, fn func(ctx context.Context, i int) (R, error), opts ...Option) ([]R, error) {
	return execute(ctx, c, indexJob[R](n, fn, "MapN"), nil, opts)
}

// Each is Map that hands each result to sink on rank 0 as it arrives, in
// the order tasks finish, and keeps none: rank 0's memory does not grow with
// the number of tasks. sink is called from the goroutine that called Each,
// once per task that succeeded (a failed task is in the error instead), and
// for a map resumed from a journal first with every journaled result, in
// index order. An error from sink stops the map as a cancellation does: no
// new task starts, the running ones finish (and are journaled), and every
// rank returns an error, wrapping sink's on rank 0. sink is used on rank 0
// only; the other ranks may pass nil.
func Each[T, R any](ctx context.Context, c mpi.Comm, args []T, fn func(ctx context.Context, arg T) (R, error),
	sink func(index int, r R) error, opts ...Option) error {
	_, err := execute(ctx, c, argsJob[T, R](args, fn, "Each"), sinkOrNil(sink), opts)
	return err
}

// EachN is Each over the task indices 0..n-1, as MapN is Map.
func EachN[R any](ctx context.Context, c mpi.Comm, n int, fn func(ctx context.Context, i int) (R, error),
	sink func(index int, r R) error, opts ...Option) error {
	_, err := execute(ctx, c, indexJob[R](n, fn, "EachN"), sinkOrNil(sink), opts)
	return err
}

// job is what a map computes: n tasks, each task's function of its index,
// and what identifies the tasks across ranks and in a journal.
type job[R any] struct {
	name   string // of the function called, for errors
	n      int
	fn     func(ctx context.Context, i int) (R, error) // nil if the caller's fn was nil
	digest func() int64                                // of the arguments' content, compared across ranks
	head   func(key []string) (journalHead, error)     // the journal's fingerprint
}

func argsJob[T, R any](args []T, fn func(context.Context, T) (R, error), name string) job[R] {
	j := job[R]{name: name, n: len(args),
		digest: func() int64 { return digestArgs(args) },
		head:   func(key []string) (journalHead, error) { return journalHeadOf[T, R](args, key) }}
	if fn != nil {
		j.fn = func(ctx context.Context, i int) (R, error) { return fn(ctx, args[i]) }
	}
	return j
}

func indexJob[R any](n int, fn func(context.Context, int) (R, error), name string) job[R] {
	return job[R]{name: name, n: n, fn: fn,
		digest: func() int64 { return 0 },
		head:   func(key []string) (journalHead, error) { return journalHeadOfN[R](n, key), nil }}
}

// sinkOrNil marks a map whose results go to a sink, the sink being nil off
// rank 0.
func sinkOrNil[R any](sink func(int, R) error) *func(int, R) error { return &sink }

// mapper is one rank's part of a map.
type mapper[R any] struct {
	comm  mpi.Comm
	cfg   config
	codec codec.Codec[R]
	seq   uint64 // the map's place among the maps on comm, in every message
	// poisoned is set when another map was tried on comm while this one ran.
	poisoned *atomic.Bool
	n        int
	np       int
	rank     int
	host     string
	run      *runner[R]

	// skip marks the tasks a journal already holds (nil without one), and
	// journaled counts them.
	skip      *bitset
	journaled int
	inputs    *inputs // the tasks' inputs, with WithInput

	layout layout        // who deals to whom
	dealer int           // the rank this rank reports to, unless it is 0
	spin   time.Duration // how long a quiet loop only yields (idler)

	inbox   []byte    // reused for every message received
	reading report[R] // reused for every report received: its pieces
	load    loadCount // the map messages this rank handled
	marked  bool      // the marker of this rank's parts is sent (parts.go)
}

// execute runs job on every rank of c; sink is nil for a map whose results
// come back in a slice.
func execute[R any](ctx context.Context, c mpi.Comm, j job[R], sink *func(int, R) error, opts []Option) ([]R, error) {
	if c == nil {
		return nil, fmt.Errorf("mpimap: %s called with a nil Comm", j.name)
	}
	var err error
	if ctx == nil {
		// Still agreed with the other ranks below, so that none waits.
		ctx, err = context.Background(), fmt.Errorf("mpimap: %s called with a nil context", j.name)
	}
	seq, poisoned, end, berr := begin(ctx, c)
	if berr != nil {
		return nil, berr // on this rank alone: see begin
	}
	defer end()
	// Every call of the map's goes through a handle of its own: meanwhile
	// mpi refuses anyone else's collective on c (a task's, say), with an
	// error that says why, instead of mixing it into the map's.
	user := c
	if handle, release, ok := claim.Comm(c, "a Map"); ok {
		defer release()
		c = handle.(mpi.Comm)
	}
	reapAbandoned()
	cfg := newConfig(opts)
	rc, cerr := codec.New[R]()
	switch {
	case err != nil:
	case cfg.err != nil:
		err = cfg.err
	case j.fn == nil:
		err = fmt.Errorf("mpimap: %s called with a nil fn", j.name)
	case j.n < 0:
		err = fmt.Errorf("mpimap: %s of %d tasks", j.name, j.n)
	case sink != nil && *sink == nil && c.Rank() == 0:
		err = fmt.Errorf("mpimap: %s called with a nil sink on rank 0", j.name)
	case cerr != nil:
		err = fmt.Errorf("mpimap: the results: %w", cerr)
	default:
		err = checkInputs(cfg, c.Rank())
	}
	k, kerr := nodeSize()
	if err == nil {
		err = kerr
	}
	m := &mapper[R]{comm: c, cfg: cfg, codec: rc, seq: seq, poisoned: poisoned,
		n: max(j.n, 0), np: c.Size(), rank: c.Rank(), host: c.Host()}
	// Rank 0 reads the journal first: a journal it cannot use is its
	// refusal, and so every rank's error.
	g := &gather[R]{codec: rc}
	if err == nil && m.rank == 0 {
		if sink == nil {
			g.results = make([]R, m.n)
		} else {
			g.sink = *sink
		}
		if cfg.journal != "" {
			err = m.openJournal(j, g)
		}
	}
	if err := agree(c, append(m.settings(j, sink != nil), setting{nodeSizeVar, "node sizes (" + nodeSizeVar + ")", int64(k)}), err); err != nil {
		if g.journal != nil {
			g.journal.close()
		}
		return nil, err
	}
	// A chunk larger than the map is the whole map; clamping it keeps every
	// size computed from it far from overflow.
	m.cfg.chunk = min(m.cfg.chunk, max(m.n, 1))
	if cfg.journal != "" {
		if err := m.shareJournaled(); err != nil {
			return nil, err
		}
	}
	if k > 0 || m.np == 1 {
		m.layout, err = nodeLayout(c, m.np, k)
	} else {
		m.layout, err = machineLayout(user, c, m.np)
	}
	if err != nil {
		return nil, err // every rank's: the collective failed
	}
	m.dealer = m.layout.dealerOf(m.rank)
	m.spin = spinFor
	if k == 0 && len(m.layout.members(m.layout.leaderOf[m.rank])) <= runtime.NumCPU() {
		m.spin = spinAlone // a core for each rank of the node: spinning takes from no one
	}
	m.run = &runner[R]{fn: j.fn, timeout: cfg.timeout, traced: cfg.trace != "", start: time.Now(), rank: m.rank, host: m.host}
	if cfg.inputs {
		var source func(int) []byte // received, never made, but on rank 0
		if m.rank == 0 {
			source = cfg.input
		}
		m.inputs = newInputs(source, m.skip)
		m.run.inputs = m.inputs
	}
	switch {
	case m.rank == 0:
		if err := m.runRoot(ctx, g); err != nil {
			if errors.Is(err, errConcurrent) {
				return nil, err // results of two maps, maybe mixed
			}
			return g.results, err
		}
		return g.results, nil
	case m.layout.leads(m.rank):
		return nil, m.relay(ctx)
	}
	return nil, m.work(ctx)
}

// runRoot runs rank 0's part: what the journal holds first, then the map.
func (m *mapper[R]) runRoot(ctx context.Context, g *gather[R]) error {
	g.run = m.run
	mon, err := newMonitor(m.cfg, m.n, m.skip, m.journaled)
	if err == nil && g.sink != nil && g.journal != nil {
		err = g.journal.replay(g.sink)
	}
	if err != nil {
		out := outbox{comm: m.comm, tag: tagToWorker}
		m.abort(&out, m.layout.reportingTo(false), "the map failed on rank 0: "+err.Error())
		if g.journal != nil {
			g.journal.close()
		}
		return err
	}
	g.mon = mon
	return m.root(ctx, g)
}

// openJournal opens rank 0's journal, and reads what it holds into g's
// results or, for a sink, only which tasks.
func (m *mapper[R]) openJournal(j job[R], g *gather[R]) error {
	head, err := j.head(m.cfg.journalKey)
	if err != nil {
		return err
	}
	g.journal, m.skip, m.journaled, err = openJournal(m.cfg, head, g.codec, m.n, g.results)
	return err
}

// shareJournaled tells every rank which tasks rank 0's journal already holds.
func (m *mapper[R]) shareJournaled() error {
	if m.rank != 0 {
		m.skip = newBitset(m.n)
	}
	words, err := m.comm.Bcast(0, mpi.Bytes(m.skip.words))
	if err != nil {
		return fmt.Errorf("mpimap: sharing the journal: %w", err)
	}
	if m.rank != 0 {
		copy(mpi.Bytes(m.skip.words), words)
	}
	return nil
}

// computes reports whether rank runs tasks.
func (m *mapper[R]) computes(rank int) bool {
	return rank != 0 || !m.cfg.noRoot || m.np == 1
}

// share is the static share of the tasks of rank under Block or Cyclic, nil
// under Dynamic and Guided.
func (m *mapper[R]) share(rank int) *span {
	if m.cfg.schedule.dealt() {
		return nil
	}
	if !m.computes(rank) {
		return &span{stride: 1, attempt: 1}
	}
	p, q := m.np, rank // ranks that compute, and this rank's place among them
	if m.cfg.noRoot && m.np > 1 {
		p, q = m.np-1, rank-1
	}
	s := staticShare(m.cfg.schedule, m.n, p, q)
	return &s
}

// setting is one value that every rank must pass alike, and what to call it
// when they do not.
type setting struct {
	name string // the option, or what the value is of
	what string // what differs, in the plural
	v    int64
}

// settings are the values of a map that every rank must share: the
// arguments (their number, and a digest of their content), the map's place
// among the maps on the communicator, and the options that shape the work.
func (m *mapper[R]) settings(j job[R], each bool) []setting {
	flag := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	return []setting{
		{"args", "", int64(m.n)},
		{"args content", "", j.digest()},
		{"map sequence", "", int64(m.seq)},
		{"function", "functions (Map, MapN, Each, EachN)", flag(each)<<1 | flag(strings.HasSuffix(j.name, "N"))},
		{"WithSchedule", "schedules", int64(m.cfg.schedule)},
		{"WithChunk", "chunks", int64(m.cfg.chunk)},
		{"WithoutRoot", "roles for rank 0", flag(m.cfg.noRoot)},
		{"WithJournal", "journal settings", flag(m.cfg.journal != "")},
		{"WithTaskTimeout", "task time limits", int64(m.cfg.timeout)},
		{"WithRetries", "retries", int64(m.cfg.retries)},
		{"WithTrace", "trace settings", flag(m.cfg.trace != "")},
		{"WithInput", "input settings", flag(m.cfg.inputs)},
	}
}

// digestArgs is a digest of args' content, the same on every rank that holds
// the same args, whatever order their maps iterate in; 0 for args that
// cannot be digested (funcs, chans), which are then compared by number only.
func digestArgs[T any](args []T) int64 {
	if len(args) == 0 {
		return 0
	}
	h := crc64.New(crcTable)
	if codec.Digest(h, args) != nil {
		return 0
	}
	return int64(h.Sum64() >> 1) // non-negative, so that its negation is too
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// agree checks, in one collective call, that every rank can run the map and
// passed the same settings, so that a mistake on one rank is an error on
// every rank instead of a hang or a wrong result.
func agree(c mpi.Comm, settings []setting, local error) error {
	vals := make([]int64, len(settings))
	for i, s := range settings {
		vals[i] = s.v
	}
	ranges, err := agreeing.Values(c, local, vals...)
	var other *agreeing.RankError
	switch {
	case errors.As(err, &other) && err == other:
		return fmt.Errorf("mpimap: %w", err) // another rank's refusal
	case err != nil:
		return err
	}
	var differ []string
	for i, s := range settings {
		r := ranges[i]
		if r.Same() {
			continue
		}
		switch s.name {
		case "args":
			return fmt.Errorf("mpimap: args differ in length across ranks (from %d to %d): every rank must pass the same args", r.Min, r.Max)
		case "args content":
			return fmt.Errorf("mpimap: args differ in content across ranks (%d of them on every rank): every rank must pass the same args", settings[0].v)
		case "map sequence":
			return fmt.Errorf("mpimap: the ranks are at different maps on this communicator (from the %dth to the %dth): every rank must call the same maps in the same order", r.Min, r.Max)
		}
		differ = append(differ, fmt.Sprintf("%s (%s)", s.what, s.name))
	}
	if len(differ) > 0 {
		return fmt.Errorf("mpimap: ranks passed different %s: every rank must pass the same options", strings.Join(differ, ", "))
	}
	return nil
}

// interruption describes a map stopped by a cancelled context: the tasks
// that did not run (possibly none), and on which ranks it was cancelled.
type interruption struct {
	notRun, n int
	causes    []string // "rank R: reason"
}

// mapError is the error every rank returns: the task failures, in argument
// order, and the interruption if any. own maps this rank's failures to their
// original errors; ownCause is this rank's cancelled context's error.
func mapError(fails []failure, own map[int]error, in interruption, ownCause error) error {
	var errs []error
	for _, f := range fails {
		te := f.taskError()
		if err, ok := own[f.index]; ok {
			te.Err = err
		}
		errs = append(errs, te)
	}
	if in.notRun > 0 || len(in.causes) > 0 { // some tasks did not run, or a context was cancelled
		where := ""
		if len(in.causes) > 0 {
			where = " (" + strings.Join(in.causes, "; ") + ")"
		}
		if ownCause != nil {
			errs = append(errs, fmt.Errorf("%w: %d of %d tasks not run%s: %w", ErrInterrupted, in.notRun, in.n, where, ownCause))
		} else {
			errs = append(errs, fmt.Errorf("%w: %d of %d tasks not run%s", ErrInterrupted, in.notRun, in.n, where))
		}
	}
	return errors.Join(errs...)
}
