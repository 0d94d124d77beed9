package farm

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"github.com/hpcmap/hpcmap/mpi"
)

// taskArgs gives rank 0 the arguments of any task. Rank 0 alone reads the
// input sources and keeps their bytes (an item costs its bytes and four
// more), so that a product of sources costs no more than its sources; it
// sends each task its arguments with the task (mpimap.WithInput).
type taskArgs interface {
	Len() int
	Args(i int) []string
}

// shared is what every rank learns of the inputs: the --header names of
// columns, or why rank 0 could not read them.
type shared struct {
	Names map[string]int
	Err   string
}

// shareInputs reads the input sources on rank 0 and gives every rank the
// column names; the arguments are rank 0's alone (nil elsewhere). An
// unreadable input is an error on every rank.
func shareInputs(c mpi.Comm, o *options, stdin io.Reader) (taskArgs, map[string]int, error) {
	var msg []byte
	var t *table
	if c.Rank() == 0 {
		var sh shared
		var err error
		if t, sh.Names, err = readInputs(o, stdin); err != nil {
			sh.Err = err.Error()
		}
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(sh); err != nil {
			return nil, nil, fmt.Errorf("encoding the inputs' names: %w", err)
		}
		msg = b.Bytes()
	}
	msg, err := c.Bcast(0, msg)
	if err != nil {
		return nil, nil, fmt.Errorf("sharing the inputs' names: %w", err)
	}
	var sh shared
	if err := gob.NewDecoder(bytes.NewReader(msg)).Decode(&sh); err != nil {
		return nil, nil, fmt.Errorf("decoding the inputs' names: %w", err)
	}
	if sh.Err != "" {
		return nil, nil, usageError{errors.New(sh.Err)}
	}
	if t == nil {
		return nil, sh.Names, nil
	}
	return t, sh.Names, nil
}

// readInputs reads the sources that the options name (standard input when
// none), takes off their --header lines and names their columns, and
// combines them into the table of tasks.
func readInputs(o *options, stdin io.Reader) (*table, map[string]int, error) {
	specs := o.sources
	if len(specs) == 0 {
		specs = []sourceSpec{{path: "-"}}
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			fmt.Fprintln(os.Stderr, "hpcmap farm: reading the arguments from the terminal (end with Ctrl-D)")
		}
	}
	cols := o.columns()
	var names map[string]int
	if o.header {
		names = map[string]int{}
	}
	var groups [][]source
	position := 1 // of the next source's first column
	for k, spec := range specs {
		var s source
		switch {
		case spec.rng != nil:
			s = *spec.rng
			position++
		default:
			var l *lines
			var err error
			if spec.path != "" {
				l, err = readSource(spec.path, stdin, o.delim)
			} else {
				l, err = splitLines(valueBytes(spec.values, o.delim), o.delim)
			}
			if err != nil {
				return nil, nil, err
			}
			if o.header {
				position += nameColumns(names, l, cols, position)
			} else {
				position++
			}
			s = l
		}
		if k == 0 || !(spec.linked || o.link) {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], s)
	}
	t, err := newTable(groups, cols, o.link)
	return t, names, err
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
