package farm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// source is one input source: a list of values.
type source interface {
	Len() int
	Value(i int) string
}

// items are the values of a file, of standard input or of :::.
type items []string

func (v items) Len() int           { return len(v) }
func (v items) Value(i int) string { return v[i] }

// intRange is the values of --range: n integers from first, step apart.
type intRange struct {
	First, Step int64
	N           int
}

func (r intRange) Len() int           { return r.N }
func (r intRange) Value(i int) string { return strconv.FormatInt(r.First+int64(i)*r.Step, 10) }

// parseRange reads --range's A-B or A-B:STEP: the integers from A to B
// inclusive (A may be negative, and B below A with a negative STEP).
func parseRange(s string) (intRange, error) {
	m := rangeSyntax.FindStringSubmatch(s)
	if m == nil {
		return intRange{}, fmt.Errorf("--range %s: want FIRST-LAST or FIRST-LAST:STEP, integers (e.g. 1-100 or 0-1000:10)", s)
	}
	first, err1 := strconv.ParseInt(m[1], 10, 64)
	last, err2 := strconv.ParseInt(m[2], 10, 64)
	step := int64(1)
	var err3 error
	if m[3] != "" {
		step, err3 = strconv.ParseInt(m[3], 10, 64)
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		return intRange{}, fmt.Errorf("--range %s: %w", s, err)
	}
	switch {
	case step == 0:
		return intRange{}, fmt.Errorf("--range %s: the step cannot be 0", s)
	case last != first && (last > first) != (step > 0):
		return intRange{}, fmt.Errorf("--range %s: a step of %d never gets from %d to %d", s, step, first, last)
	}
	n := (last-first)/step + 1
	if n > math.MaxInt32 {
		return intRange{}, fmt.Errorf("--range %s: %d values is too many", s, n)
	}
	return intRange{First: first, Step: step, N: int(n)}, nil
}

var rangeSyntax = regexp.MustCompile(`^(-?[0-9]+)-(-?[0-9]+)(?::(-?[0-9]+))?$`)

// lines are the items of a file, of standard input or of :::, kept as they
// were read: one block of bytes, and where each item ends. An item costs
// its bytes and four more; a slice of strings would cost 16 more, and a
// string's allocation.
type lines struct {
	data  []byte
	from  uint32   // where the first item starts (after a --header line)
	ends  []uint32 // where each item ends; the next starts after the delimiter
	delim uint32   // the delimiter's length
}

func (l *lines) Len() int { return len(l.ends) }

func (l *lines) Value(i int) string {
	start := l.from
	if i > 0 {
		start = l.ends[i-1] + l.delim
	}
	return string(l.data[start:l.ends[i]])
}

// maxSource is the most bytes an input source may hold.
const maxSource = math.MaxUint32

// splitLines cuts data into items at each delimiter, as GNU Parallel reads
// its inputs: a delimiter at the very end ends the last item rather than
// starting an empty one.
func splitLines(data []byte, delim string) (*lines, error) {
	if int64(len(data)) > maxSource {
		return nil, fmt.Errorf("an input source of %d bytes: at most %d", len(data), int64(maxSource))
	}
	d := []byte(delim)
	l := &lines{data: data, delim: uint32(len(d)), ends: make([]uint32, 0, bytes.Count(data, d)+1)}
	for start := 0; start < len(data); {
		k := bytes.Index(data[start:], d)
		if k < 0 {
			l.ends = append(l.ends, uint32(len(data)))
			break
		}
		l.ends = append(l.ends, uint32(start+k))
		start += k + len(d)
	}
	return l, nil
}

// dropFirst takes the first item off l, and returns it.
func (l *lines) dropFirst() string {
	first := l.Value(0)
	l.from = l.ends[0] + l.delim
	l.ends = l.ends[1:]
	return first
}

// readSource reads the items of a file ("-" is standard input).
func readSource(path string, stdin io.Reader, delim string) (*lines, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		if path == "-" {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return nil, fmt.Errorf("cannot read input file: %w", err)
	}
	l, err := splitLines(data, delim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// valueBytes are the values after ::: as an input source's bytes. GNU
// Parallel passes them through the same reader as files, so a value holding
// the delimiter (a newline, by default) makes several items; so it is here.
func valueBytes(values []string, delim string) []byte {
	var b bytes.Buffer
	for _, v := range values {
		b.WriteString(v)
		b.WriteString(delim)
	}
	return b.Bytes()
}

// columns splits values into the arguments of a task: with --colsep, at
// each match (keeping empty columns); then trims white space off each, as
// GNU Parallel's --trim (which --colsep turns on) does.
type columns struct {
	sep                 *regexp.Regexp // nil: the value is one argument
	trimLeft, trimRight bool
}

const whiteSpace = " \t\n\r\f\v" // Perl's \s

func (c columns) split(dst []string, v string) []string {
	if c.sep == nil || v == "" {
		return append(dst, c.trimmed(v))
	}
	for _, col := range c.sep.Split(v, -1) {
		dst = append(dst, c.trimmed(col))
	}
	return dst
}

func (c columns) trimmed(v string) string {
	if c.trimLeft {
		v = strings.TrimLeft(v, whiteSpace)
	}
	if c.trimRight {
		v = strings.TrimRight(v, whiteSpace)
	}
	return v
}

// table is every task's arguments: the Cartesian product of groups of
// linked sources, the first group varying slowest (mpimap.Grid's order);
// the sources of a group go side by side, as long as the shortest (or, with
// wrap, as the longest, shorter ones starting over).
type table struct {
	groups [][]source
	cols   columns
	wrap   bool
	sizes  []int // of each group
	n      int
}

// newTable makes the table of groups of sources. As GNU Parallel does, an
// empty source counts as one empty value, unless every source is empty:
// then there are no tasks.
func newTable(groups [][]source, cols columns, wrap bool) (*table, error) {
	t := &table{groups: groups, cols: cols, wrap: wrap, n: 1}
	empty := true
	for _, g := range groups {
		for _, s := range g {
			empty = empty && s.Len() == 0
		}
	}
	if empty {
		t.n = 0
	}
	for k, g := range groups {
		size := math.MaxInt
		if wrap {
			size = 0
		}
		for i, s := range g {
			if s.Len() == 0 {
				g[i] = items{""}
			}
			if wrap {
				size = max(size, g[i].Len())
			} else {
				size = min(size, g[i].Len())
			}
		}
		t.sizes = append(t.sizes, size)
		if !empty {
			if size != 0 && t.n > math.MaxInt32/size {
				return nil, fmt.Errorf("the inputs make more than %d tasks (input source %d multiplies them by %d)", math.MaxInt32, k+1, size)
			}
			t.n *= size
		}
	}
	return t, nil
}

// Len is the number of tasks.
func (t *table) Len() int { return t.n }

// Args are the arguments of task i (from 0).
func (t *table) Args(i int) []string {
	rows := make([]int, len(t.groups))
	for k := len(t.groups) - 1; k >= 0; k-- {
		rows[k] = i % t.sizes[k]
		i /= t.sizes[k]
	}
	var args []string
	for k, g := range t.groups {
		for _, s := range g {
			args = t.cols.split(args, s.Value(rows[k]%s.Len()))
		}
	}
	return args
}
