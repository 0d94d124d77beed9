package trace

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// maxLine is the longest line a Reader takes: a row is under 400 bytes even
// with the longest host name DNS allows.
const maxLine = 4096

// Reader reads a trace file a row at a time. It holds one line at a time,
// and refuses lines over 4 KiB and ranks or workers beyond MaxRank and
// MaxWorker, so that no input can make it, or a chart drawn from what it
// reads, ask for much more memory than the file's size.
type Reader struct {
	r      *bufio.Reader
	line   int  // of the row last read
	header bool // read and checked
	torn   bool
	hosts  map[string]string // one string per host, not per row
	fields [len(columns)]string
	starts [len(columns)]int // each field's first byte in its line
}

// NewReader returns a Reader that reads a trace file from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), hosts: map[string]string{}}
}

// Torn reports whether the file's last line ended without a line break and
// was no whole row, and so was skipped: what a kill leaves when it cuts a
// write short. Call it once Read has returned io.EOF.
func (r *Reader) Torn() bool { return r.torn }

// Read returns the next row, or io.EOF after the last. A malformed file is an
// error naming the line and the column of the first bad field, but for a last
// line torn short, which is skipped (see Torn).
func (r *Reader) Read() (Task, error) {
	if !r.header {
		if err := r.readHeader(); err != nil {
			return Task{}, err
		}
	}
	for {
		line, last, err := r.next()
		if err != nil {
			return Task{}, err
		}
		t, err := r.parse(line)
		switch {
		case err == nil:
			return t, nil
		case last:
			r.torn = true
			return Task{}, io.EOF
		default:
			return Task{}, err
		}
	}
}

// ReadAll reads the remaining rows.
func (r *Reader) ReadAll() ([]Task, error) {
	var tasks []Task
	for {
		t, err := r.Read()
		if err == io.EOF {
			return tasks, nil
		}
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
}

// ReadCSV reads a trace file: the Header line, then one row per attempt in
// any order. A malformed file is an error naming the line and the column of
// the first bad field; a last line torn short is skipped.
func ReadCSV(r io.Reader) ([]Task, error) { return NewReader(r).ReadAll() }

// next returns the next line without its line break, and whether it is the
// last and had none.
func (r *Reader) next() (line string, last bool, err error) {
	b, err := r.r.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull || len(b) > maxLine+1:
		return "", false, fmt.Errorf("trace: line %d is longer than %d bytes: not a trace", r.line+1, maxLine)
	case err == io.EOF && len(b) == 0:
		return "", false, io.EOF
	case err != nil && err != io.EOF:
		return "", false, fmt.Errorf("trace: %w", err)
	}
	r.line++
	last = err == io.EOF
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return s, last, nil
}

func (r *Reader) readHeader() error {
	line, last, err := r.next()
	if err == io.EOF {
		return fmt.Errorf("trace: empty input: want the header %q", Header)
	}
	if err != nil {
		return err
	}
	if last && line != Header && strings.HasPrefix(Header, line) {
		// Torn before the header's end: a trace without rows.
		r.header, r.torn = true, true
		return nil
	}
	if err := r.split(line); err != nil {
		return err
	}
	for i, name := range columns {
		if r.fields[i] != name {
			return fmt.Errorf("trace: line 1, column %d: header has %q where %q belongs (want %q)",
				r.starts[i]+1, r.fields[i], name, Header)
		}
	}
	r.header = true
	return nil
}

// split cuts line into its fields, which may be quoted as in RFC 4180.
func (r *Reader) split(line string) error {
	n := 0
	for pos := 0; ; n++ {
		if n == len(columns) {
			return fmt.Errorf("trace: line %d: more than %d fields (want %q)", r.line, len(columns), Header)
		}
		r.starts[n] = pos
		var field string
		var ok bool
		if field, pos, ok = cut(line, pos); !ok {
			return fmt.Errorf("trace: line %d, column %d: a quote that does not close the field", r.line, r.starts[n]+1)
		}
		r.fields[n] = field
		if pos >= len(line) {
			break
		}
		pos++ // the comma
	}
	if n+1 != len(columns) {
		return fmt.Errorf("trace: line %d: %d fields, want %d (%q)", r.line, n+1, len(columns), Header)
	}
	return nil
}

// cut returns the field of line that starts at pos, and the position of the
// comma or end that follows it.
func cut(line string, pos int) (field string, end int, ok bool) {
	if pos >= len(line) || line[pos] != '"' {
		end = pos + strings.IndexByte(line[pos:], ',')
		if end < pos {
			end = len(line)
		}
		return line[pos:end], end, true
	}
	var b strings.Builder
	for i := pos + 1; i < len(line); i++ {
		switch {
		case line[i] != '"':
			b.WriteByte(line[i])
		case i+1 < len(line) && line[i+1] == '"':
			b.WriteByte('"')
			i++
		case i+1 == len(line) || line[i+1] == ',':
			return b.String(), i + 1, true
		default:
			return "", 0, false
		}
	}
	return "", 0, false
}

// parse reads one row.
func (r *Reader) parse(line string) (Task, error) {
	if err := r.split(line); err != nil {
		return Task{}, err
	}
	t, field, err := parseFields(&r.fields)
	if err != nil {
		return Task{}, fmt.Errorf("trace: line %d, column %d (%s): %w", r.line, r.starts[field]+1, columns[field], err)
	}
	h, ok := r.hosts[r.fields[2]]
	if !ok {
		h = strings.Clone(r.fields[2])
		r.hosts[h] = h
	}
	t.Host = h
	return t, nil
}

// parseFields parses the fields of one row but the host, and on failure
// says which field is wrong.
func parseFields(rec *[len(columns)]string) (t Task, field int, err error) {
	ints := []struct {
		field       int
		dst         *int
		least, most int
	}{{0, &t.Index, 0, math.MaxInt}, {1, &t.Rank, 0, MaxRank}, {3, &t.Worker, 0, MaxWorker}, {6, &t.Attempt, 1, math.MaxInt}}
	for _, f := range ints {
		v, err := strconv.Atoi(rec[f.field])
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return t, f.field, fmt.Errorf("%q is not an integer", rec[f.field])
		}
		switch {
		case err != nil || v > f.most:
			return t, f.field, fmt.Errorf("%s is more than %d", rec[f.field], f.most)
		case v < f.least:
			return t, f.field, fmt.Errorf("%d is less than %d", v, f.least)
		}
		*f.dst = v
	}
	for _, f := range []struct {
		field int
		dst   *float64
	}{{4, &t.Start}, {5, &t.End}} {
		v, err := strconv.ParseFloat(rec[f.field], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return t, f.field, fmt.Errorf("%q is not a finite number of seconds", rec[f.field])
		}
		*f.dst = v
	}
	if t.End < t.Start {
		return t, 5, fmt.Errorf("the task ends (%v s) before it starts (%v s)", t.End, t.Start)
	}
	if t.Status, err = ParseStatus(rec[7]); err != nil {
		return t, 7, err
	}
	return t, 0, nil
}
