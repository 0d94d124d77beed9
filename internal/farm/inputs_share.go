package farm

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"unsafe"

	"github.com/hpcmap/hpcmap/mpi"
)

// taskArgs gives a rank the arguments of any task. Rank 0 reads the input
// sources and broadcasts their bytes; every rank keeps them (an item costs
// its bytes and four more) and computes any task's arguments from them, so
// that a product of sources costs no more than its sources. The engine
// deals task indices only, and a task cannot ask rank 0 for its arguments
// (only the goroutine that called the map communicates), so every rank
// holds every input: see docs/farm.md. Should the engine carry arguments
// with the chunks it deals, this interface is the one place to change.
type taskArgs interface {
	Len() int
	Args(i int) []string
}

// inputs is what rank 0 read and every rank gets: the sources, how they
// combine, and the --header names of columns. The bytes of the sources
// follow it, a broadcast each.
type inputs struct {
	Groups   [][]wireSource
	Delim    string
	Colsep   string
	Columns  bool // Colsep is set
	TrimLeft bool
	TrimRite bool
	Wrap     bool           // --link
	Names    map[string]int // --header: column name to position
	Err      string         // why rank 0 could not read them
}

// wireSource is a source as it crosses ranks: a range, or Size bytes of
// items (after the inputs), the first of which is a header when Header.
type wireSource struct {
	Size   int64
	Header bool
	Range  *intRange
}

// shareInputs reads the input sources on rank 0 and gives every rank the
// tasks' arguments and the column names. An unreadable input is an error on
// every rank.
func shareInputs(c mpi.Comm, o *options, stdin io.Reader) (taskArgs, map[string]int, error) {
	var msg []byte
	var read [][]*lines // rank 0's sources
	if c.Rank() == 0 {
		in, srcs, err := readInputs(o, stdin)
		if err != nil {
			in = &inputs{Err: err.Error()}
		}
		read = srcs
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(in); err != nil {
			return nil, nil, fmt.Errorf("encoding the inputs: %w", err)
		}
		msg = b.Bytes()
	}
	msg, err := c.Bcast(0, msg)
	if err != nil {
		return nil, nil, fmt.Errorf("sharing the inputs: %w", err)
	}
	var in inputs
	if err := gob.NewDecoder(bytes.NewReader(msg)).Decode(&in); err != nil {
		return nil, nil, fmt.Errorf("decoding the inputs: %w", err)
	}
	if in.Err != "" {
		return nil, nil, usageError{errors.New(in.Err)}
	}
	cols := columns{trimLeft: in.TrimLeft, trimRight: in.TrimRite}
	if in.Columns {
		cols.sep = regexp.MustCompile(in.Colsep)
	}
	groups := make([][]source, len(in.Groups))
	for k, g := range in.Groups {
		for j, w := range g {
			s, err := w.receive(c, in.Delim, read, k, j)
			if err != nil {
				return nil, nil, err
			}
			groups[k] = append(groups[k], s)
		}
	}
	t, err := newTable(groups, cols, in.Wrap)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return t, in.Names, nil
}

// receive is the source w on this rank: rank 0's own, which it sends,
// or its bytes received and cut into items.
func (w wireSource) receive(c mpi.Comm, delim string, read [][]*lines, k, j int) (source, error) {
	if w.Range != nil {
		return *w.Range, nil
	}
	var mine []byte
	if c.Rank() == 0 {
		mine = read[k][j].data
	}
	data, err := bcastLarge(c, mine, w.Size)
	if err != nil {
		return nil, fmt.Errorf("sharing the inputs: %w", err)
	}
	if c.Rank() == 0 {
		return read[k][j], nil
	}
	l, err := splitLines(data, delim)
	if err != nil {
		return nil, err
	}
	if w.Header && l.Len() > 0 {
		l.dropFirst()
	}
	return l, nil
}

// bcastLarge broadcasts rank 0's size bytes in pieces, so that no rank
// holds a second copy of them: MPI's broadcast gives the root a copy too.
func bcastLarge(c mpi.Comm, data []byte, size int64) ([]byte, error) {
	const piece = 1 << 20
	if c.Rank() != 0 {
		data = make([]byte, size)
	}
	// Each piece received is garbage once copied: collected soon, the
	// garbage does not grow the rank's memory by as much as the input
	// (the collector would wait for the heap to double). Marking is cheap:
	// the input is bytes, with no pointers to follow.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for at := int64(0); at < size; at += piece {
		part := data[at:min(size, at+piece)]
		got, err := c.Bcast(0, part)
		if err != nil {
			return nil, err
		}
		if int64(len(got)) != int64(len(part)) {
			return nil, fmt.Errorf("%d bytes of input received, want %d", len(got), len(part))
		}
		if c.Rank() != 0 {
			copy(part, got)
		}
	}
	return data, nil
}

// readInputs reads the sources that the options name (standard input when
// none), takes off their --header lines, and groups them.
func readInputs(o *options, stdin io.Reader) (*inputs, [][]*lines, error) {
	specs := o.sources
	if len(specs) == 0 {
		specs = []sourceSpec{{path: "-"}}
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			fmt.Fprintln(os.Stderr, "hpcmap farm: reading the arguments from the terminal (end with Ctrl-D)")
		}
	}
	cols := o.columns()
	in := &inputs{Delim: o.delim, Wrap: o.link, TrimLeft: cols.trimLeft, TrimRite: cols.trimRight}
	if cols.sep != nil {
		in.Colsep, in.Columns = cols.sep.String(), true
	}
	if o.header {
		in.Names = map[string]int{}
	}
	var read [][]*lines
	position := 1 // of the next source's first column
	for k, spec := range specs {
		var w wireSource
		var l *lines
		var err error
		switch {
		case spec.rng != nil:
			w.Range = spec.rng
		case spec.path != "":
			l, err = readSource(spec.path, stdin, o.delim)
		default:
			l, err = splitLines(valueBytes(spec.values, o.delim), o.delim)
		}
		if err != nil {
			return nil, nil, err
		}
		if l != nil {
			w.Size = int64(len(l.data))
		}
		if o.header && l != nil {
			w.Header = l.Len() > 0
			position += nameColumns(in.Names, l, cols, position)
		} else {
			position++
		}
		if k == 0 || !(spec.linked || o.link) {
			in.Groups = append(in.Groups, nil)
			read = append(read, nil)
		}
		g := len(in.Groups) - 1
		in.Groups[g] = append(in.Groups[g], w)
		read[g] = append(read[g], l)
	}
	return in, read, nil
}

// nameColumns takes the header off a source's items, names its columns from
// position on, and returns how many it named.
func nameColumns(names map[string]int, l *lines, cols columns, position int) int {
	if l.Len() == 0 {
		return 0
	}
	header := strings.TrimSuffix(l.dropFirst(), "\r")
	// Perl's split, which GNU Parallel splits the header with, drops
	// trailing empty fields.
	fields := []string{header}
	if cols.sep != nil {
		fields = cols.sep.Split(header, -1)
	}
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1]
	}
	for k, name := range fields {
		if _, taken := names[name]; !taken {
			names[name] = position + k
		}
	}
	return len(fields)
}

// isTerminal reports whether f is a terminal (not merely a character
// device, as /dev/null is).
func isTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
