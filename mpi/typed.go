package mpi

import (
	"fmt"
	"io"
	"unsafe"
)

// fromBytes copies b into a new []T; b must hold a whole number of elements.
func fromBytes[T Number](op string, b []byte) ([]T, error) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(b)%size != 0 {
		return nil, argError(ErrCount, op, "message of %d bytes is not a whole number of %T", len(b), zero)
	}
	s := make([]T, len(b)/size)
	copy(Bytes(s), b)
	return s, nil
}

// SendSlice sends the numbers in s to rank dst.
func SendSlice[T Number](c Comm, dst, tag int, s []T) error {
	return c.Send(dst, tag, Bytes(s))
}

// RecvSlice receives a message of numbers from src (or AnySource).
func RecvSlice[T Number](c Comm, src, tag int) ([]T, Status, error) {
	b, st, err := c.Recv(src, tag)
	if err != nil {
		return nil, st, err
	}
	s, err := fromBytes[T]("RecvSlice", b)
	return s, st, err
}

// BcastSlice returns root's s on every rank.
func BcastSlice[T Number](c Comm, root int, s []T) ([]T, error) {
	b, err := c.Bcast(root, Bytes(s))
	if err != nil {
		return nil, err
	}
	return fromBytes[T]("BcastSlice", b)
}

// GatherSlice collects every rank's s on root, in rank order; nil elsewhere.
func GatherSlice[T Number](c Comm, root int, s []T) ([][]T, error) {
	parts, err := c.Gather(root, Bytes(s))
	if err != nil || parts == nil {
		return nil, err
	}
	out := make([][]T, len(parts))
	for r, p := range parts {
		if out[r], err = fromBytes[T]("GatherSlice", p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AllgatherSlice collects every rank's s on every rank, in rank order.
func AllgatherSlice[T Number](c Comm, s []T) ([][]T, error) {
	parts, err := c.Gather(0, Bytes(s))
	if err != nil {
		return nil, err
	}
	// Rank 0 broadcasts the lengths, then the concatenation.
	var lens []int64
	var all []T
	if c.Rank() == 0 {
		lens = make([]int64, len(parts))
		for r, p := range parts {
			lens[r] = int64(len(p))
			var part []T
			if part, err = fromBytes[T]("AllgatherSlice", p); err != nil {
				return nil, err
			}
			all = append(all, part...)
		}
	}
	if lens, err = BcastSlice(c, 0, lens); err != nil {
		return nil, err
	}
	if all, err = BcastSlice(c, 0, all); err != nil {
		return nil, err
	}
	var zero T
	size := int64(unsafe.Sizeof(zero))
	out := make([][]T, len(lens))
	for r, n := range lens {
		out[r], all = all[:n/size:n/size], all[n/size:]
	}
	return out, nil
}

// ScatterSlice sends parts[r] from root to rank r; parts is read on root only.
func ScatterSlice[T Number](c Comm, root int, parts [][]T) ([]T, error) {
	var raw [][]byte
	if c.Rank() == root {
		raw = make([][]byte, len(parts))
		for r, p := range parts {
			raw[r] = Bytes(p)
		}
	}
	b, err := c.Scatter(root, raw)
	if err != nil {
		return nil, err
	}
	return fromBytes[T]("ScatterSlice", b)
}

// Fprintf formats to w on rank 0 only, so that an SPMD program prints a line
// once rather than once per rank.
func Fprintf(w io.Writer, c Comm, format string, a ...any) (int, error) {
	if c.Rank() != 0 {
		return 0, nil
	}
	return fmt.Fprintf(w, format, a...)
}
