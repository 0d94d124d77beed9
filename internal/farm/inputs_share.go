package farm

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
	"unsafe"

	"github.com/hpcmap/hpcmap/mpi"
)

// taskArgs gives a rank the arguments of any task. Today rank 0 reads the
// input sources and broadcasts them, and every rank keeps them and computes
// any task's arguments from them (a product of sources costs no more than
// its sources); for inputs of millions of lines the engine may instead send
// the arguments with the tasks it deals, behind this same interface.
type taskArgs interface {
	Len() int
	Args(i int) []string
}

// inputs is what rank 0 read and every rank gets: the sources, how they
// combine, and the --header names of columns.
type inputs struct {
	Groups   [][]wireSource
	Colsep   string
	Columns  bool // Colsep is set
	TrimLeft bool
	TrimRite bool
	Wrap     bool           // --link
	Names    map[string]int // --header: column name to position
	Err      string         // why rank 0 could not read them
}

// wireSource is a source as it crosses ranks.
type wireSource struct {
	Items items
	Range *intRange
}

func (w wireSource) source() source {
	if w.Range != nil {
		return *w.Range
	}
	return w.Items
}

// shareInputs reads the input sources on rank 0 and gives every rank the
// tasks' arguments and the column names. An unreadable input is an error on
// every rank.
func shareInputs(c mpi.Comm, o *options, stdin io.Reader) (taskArgs, map[string]int, error) {
	var msg []byte
	if c.Rank() == 0 {
		in, err := readInputs(o, stdin)
		if err != nil {
			in = &inputs{Err: err.Error()}
		}
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
		for _, w := range g {
			groups[k] = append(groups[k], w.source())
		}
	}
	t, err := newTable(groups, cols, in.Wrap)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return t, in.Names, nil
}

// readInputs reads the sources that the options name (standard input when
// none), takes off their --header lines, and groups them.
func readInputs(o *options, stdin io.Reader) (*inputs, error) {
	specs := o.sources
	if len(specs) == 0 {
		specs = []sourceSpec{{path: "-"}}
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			fmt.Fprintln(os.Stderr, "hpcmap farm: reading the arguments from the terminal (end with Ctrl-D)")
		}
	}
	cols := o.columns()
	in := &inputs{Wrap: o.link, TrimLeft: cols.trimLeft, TrimRite: cols.trimRight}
	if cols.sep != nil {
		in.Colsep, in.Columns = cols.sep.String(), true
	}
	if o.header {
		in.Names = map[string]int{}
	}
	position := 1 // of the next source's first column
	for k, spec := range specs {
		var w wireSource
		switch {
		case spec.rng != nil:
			w.Range = spec.rng
		case spec.path != "":
			v, err := readItems(spec.path, stdin, o.delim)
			if err != nil {
				return nil, err
			}
			w.Items = v
		default:
			w.Items = valueItems(spec.values, o.delim)
		}
		if o.header && w.Range == nil {
			position += nameColumns(in.Names, &w.Items, cols, position)
		} else {
			position++
		}
		if k == 0 || !(spec.linked || o.link) {
			in.Groups = append(in.Groups, nil)
		}
		g := len(in.Groups) - 1
		in.Groups[g] = append(in.Groups[g], w)
	}
	return in, nil
}

// nameColumns takes the header off a source's items, names its columns from
// position on, and returns how many it named.
func nameColumns(names map[string]int, v *items, cols columns, position int) int {
	if len(*v) == 0 {
		return 0
	}
	header := strings.TrimSuffix((*v)[0], "\r")
	*v = (*v)[1:]
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
