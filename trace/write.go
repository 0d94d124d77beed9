package trace

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// Writer writes a trace file: the Header line, then a row per Write. It
// formats rows by hand (through encoding/csv a row costs half a
// microsecond) and keeps them until Flush, or until it holds flushAt bytes,
// and then writes only whole rows, so that a file cut off by a kill ends at a
// row's end or, if a write itself is cut, in one torn line that a Reader
// skips. A Writer is not safe for use by several goroutines at once.
type Writer struct {
	w    io.Writer
	buf  []byte
	host map[string]string // host names as CSV fields, quoted if need be
	err  error             // the first write error: a Writer stays failed
}

// flushAt is the most a Writer holds before it writes.
const flushAt = 64 << 10

// NewWriter returns a Writer whose first Flush writes the header to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, buf: append(make([]byte, 0, 4<<10), Header+"\n"...), host: map[string]string{}}
}

// Write adds t's row, with times to the microsecond. A line break in the
// host's name becomes a space, so that every row is one line.
func (w *Writer) Write(t Task) error {
	if w.err != nil {
		return w.err
	}
	field, ok := w.host[t.Host]
	if !ok {
		field = hostField(t.Host)
		w.host[t.Host] = field
	}
	b := strconv.AppendInt(w.buf, int64(t.Index), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(t.Rank), 10)
	b = append(append(append(b, ','), field...), ',')
	b = strconv.AppendInt(b, int64(t.Worker), 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, t.Start, 'f', 6, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, t.End, 'f', 6, 64)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(t.Attempt), 10)
	b = append(append(append(b, ','), t.Status.String()...), '\n')
	w.buf = b
	if len(w.buf) >= flushAt {
		return w.Flush()
	}
	return nil
}

// Buffered is the number of bytes written to w but not yet to its
// io.Writer.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes the rows added so far, in one write of whole rows.
func (w *Writer) Flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	_, w.err = w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return w.err
}

// hostField is host as a CSV field: on one line, quoted if need be.
func hostField(host string) string {
	host = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(host)
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Write([]string{host})
	cw.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// WriteCSV writes tasks to w as a trace file that ReadCSV reads back.
func WriteCSV(w io.Writer, tasks []Task) error {
	tw := NewWriter(w)
	for _, t := range tasks {
		if err := tw.Write(t); err != nil {
			return err
		}
	}
	return tw.Flush()
}
