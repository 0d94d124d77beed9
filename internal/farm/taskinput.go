package farm

import (
	"encoding/binary"
	"errors"
)

// A task's input, as rank 0 sends it with the task: its index among all the
// tasks (its sequence number less one), then its arguments, each after its
// length, all uvarints.

// appendTaskInput appends task i's input to dst.
func appendTaskInput(dst []byte, i int, args []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(i))
	dst = binary.AppendUvarint(dst, uint64(len(args)))
	for _, a := range args {
		dst = binary.AppendUvarint(dst, uint64(len(a)))
		dst = append(dst, a...)
	}
	return dst
}

// readTaskInput reads a task's index and arguments.
func readTaskInput(b []byte) (i int, args []string, err error) {
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	index, ok1 := next()
	count, ok2 := next()
	if !ok1 || !ok2 || count > uint64(len(b)) {
		return 0, nil, errBadInput
	}
	args = make([]string, 0, count)
	for range count {
		size, ok := next()
		if !ok || size > uint64(len(b)) {
			return 0, nil, errBadInput
		}
		args = append(args, string(b[:size]))
		b = b[size:]
	}
	if len(b) != 0 || index > 1<<62 {
		return 0, nil, errBadInput
	}
	return int(index), args, nil
}

var errBadInput = errors.New("hpcmap farm: a task's input from rank 0 is malformed")
