package mpimap

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Logger is the logger of the task running with ctx: inside fn, its records
// are kept with the task, travel with its result, and are written by rank 0
// in argument order — never interleaved with another task's — each tagged
// with the task's index, rank and host (see WithLogs). Outside a Map it is
// slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	w, ok := ctx.Value(workerKey{}).(*workerLog)
	if !ok {
		return slog.Default()
	}
	if id, ok := ctx.Value(taskKey{}).(taskID); ok {
		return slog.New(&taskHandler{w: w, index: id.index, attempt: id.attempt})
	}
	return slog.New(&taskHandler{w: w, index: int(w.index.Load()), attempt: int(w.attempt.Load())})
}

type workerKey struct{}

// taskKey carries a taskID in the context of a task that may outlive its
// turn on the worker (one with a time limit): it may log after the worker
// has moved on to another task.
type taskKey struct{}

type taskID struct{ index, attempt int }

// workerLog collects the records of the tasks one worker goroutine runs.
type workerLog struct {
	index, attempt atomic.Int64 // the task running now: set for every task, so no lock
	mu             sync.Mutex
	records        []logRecord
}

// begin notes the task the worker starts.
func (w *workerLog) begin(index, attempt int) {
	w.index.Store(int64(index))
	w.attempt.Store(int64(attempt))
}

// take returns the records collected so far and starts afresh.
func (w *workerLog) take() []logRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.records
	w.records = nil
	return r
}

// logRecord is one record of a task, as it crosses ranks: attribute values
// travel as text.
type logRecord struct {
	index, attempt int
	time           time.Time
	level          slog.Level
	msg            string
	attrs          []string // key, value, key, value, ...
}

// taskHandler keeps the records of one task.
type taskHandler struct {
	w              *workerLog
	index, attempt int
	attrs          []string
	prefix         string // of the open groups, "a.b."
}

// Enabled keeps every level: rank 0's handler decides what is written.
func (h *taskHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *taskHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{index: h.index, attempt: h.attempt, time: r.Time, level: r.Level, msg: r.Message,
		attrs: append([]string(nil), h.attrs...)}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs = flatten(rec.attrs, h.prefix, a)
		return true
	})
	h.w.mu.Lock()
	h.w.records = append(h.w.records, rec)
	h.w.mu.Unlock()
	return nil
}

func (h *taskHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]string(nil), h.attrs...)
	for _, a := range attrs {
		c.attrs = flatten(c.attrs, h.prefix, a)
	}
	return &c
}

func (h *taskHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}

// flatten appends a's keys and values, groups spelled out as "group.key".
func flatten(dst []string, prefix string, a slog.Attr) []string {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			dst = flatten(dst, p, g)
		}
		return dst
	}
	if a.Key == "" {
		return dst
	}
	return append(dst, prefix+a.Key, v.String())
}

// record turns a task's record back into an slog.Record on rank 0, tagged
// with where the task ran.
func (l logRecord) record(rank int, host string) slog.Record {
	r := slog.NewRecord(l.time, l.level, l.msg, 0)
	r.AddAttrs(slog.Int("task", l.index), slog.Int("rank", rank), slog.String("host", host))
	if l.attempt > 1 {
		r.AddAttrs(slog.Int("attempt", l.attempt))
	}
	for i := 0; i+1 < len(l.attrs); i += 2 {
		r.AddAttrs(slog.String(l.attrs[i], l.attrs[i+1]))
	}
	return r
}
