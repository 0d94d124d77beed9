package mpi

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"

	"github.com/hpcmap/hpcmap/internal/datatype"
)

// localComm, one rank's view of a Local communicator, is Local's transport.
// Point-to-point messages go into the receiver's mailbox. Collectives go
// through rank 0 of the communicator in a context of their own, so they never
// match user messages; every member calls them in the same order, and
// messages between two ranks do not overtake, so one tag suffices.

func (c *localComm) place() (int, int, string) { return c.rank, len(c.ranks), c.w.host }

func (c *localComm) abort(code int) {
	c.w.fail(&RankError{Rank: c.rank, Host: c.w.host, Err: fmt.Errorf("%w with code %d", ErrAborted, code)})
	runtime.Goexit()
}

// stranded ends the job, as MPI would, rather than leave the others blocked.
func (c *localComm) stranded(err error) error {
	c.w.fail(&RankError{Rank: c.rank, Host: c.w.host, Err: err})
	return err
}

// post puts a copy of data into dst's mailbox, in context ctx.
func (c *localComm) post(ctx string, dst, tag int, data []byte) error {
	select {
	case <-c.w.aborted:
		return ErrAborted
	default:
	}
	c.w.boxes[c.ranks[dst]].put(message{ctx: ctx, src: c.rank, tag: tag, data: append([]byte(nil), data...)})
	return nil
}

// take waits for a message from src in context ctx and removes it.
func (c *localComm) take(ctx string, src, tag int) ([]byte, error) {
	m, _, err := c.await(ctx, src, tag, true, true)
	return m.data, err
}

func (c *localComm) send(dst, tag int, data []byte) error { return c.post(c.id, dst, tag, data) }

// Local's sends never wait: the message is copied into the mailbox.
func (c *localComm) isend(dst, tag int, data []byte) (Request, error) {
	if err := c.send(dst, tag, data); err != nil {
		return nil, err
	}
	return doneRequest{}, nil
}

type doneRequest struct{}

func (doneRequest) Test() (bool, error) { return true, nil }
func (doneRequest) Wait() error         { return nil }

func (c *localComm) recv(dst []byte, src, tag int, block bool) ([]byte, Status, bool, error) {
	m, ok, err := c.await(c.id, src, tag, true, block)
	if err != nil || !ok {
		return nil, Status{}, false, err
	}
	data := m.data
	if dst != nil {
		data = append(dst[:0], m.data...)
	}
	return data, Status{Source: m.src, Tag: m.tag, Count: len(m.data)}, true, nil
}

func (c *localComm) probe(src, tag int, block bool) (Status, bool, error) {
	m, ok, err := c.await(c.id, src, tag, false, block)
	if err != nil || !ok {
		return Status{}, false, err
	}
	return Status{Source: m.src, Tag: m.tag, Count: len(m.data)}, true, nil
}

func (c *localComm) collCtx() string { return c.id + "/coll" }

// gather collects every member's data at root (nil elsewhere).
func (c *localComm) gather(root int, data []byte) ([][]byte, error) {
	if c.rank != root {
		return nil, c.post(c.collCtx(), root, 0, data)
	}
	parts := make([][]byte, len(c.ranks))
	for r := range parts {
		if r == root {
			parts[r] = append([]byte(nil), data...)
			continue
		}
		b, err := c.take(c.collCtx(), r, 0)
		if err != nil {
			return nil, err
		}
		parts[r] = b
	}
	return parts, nil
}

// bcast sends root's data to every member.
func (c *localComm) bcast(root int, data []byte) ([]byte, error) {
	if c.rank != root {
		return c.take(c.collCtx(), root, 0)
	}
	for r := range c.ranks {
		if r != root {
			if err := c.post(c.collCtx(), r, 0, data); err != nil {
				return nil, err
			}
		}
	}
	return append([]byte(nil), data...), nil
}

func (c *localComm) barrier() error {
	if _, err := c.gather(0, nil); err != nil {
		return err
	}
	_, err := c.bcast(0, nil)
	return err
}

func (c *localComm) scatter(root int, parts [][]byte) ([]byte, error) {
	if c.rank != root {
		return c.take(c.collCtx(), root, 0)
	}
	for r, p := range parts {
		if r != root {
			if err := c.post(c.collCtx(), r, 0, p); err != nil {
				return nil, err
			}
		}
	}
	return append([]byte(nil), parts[root]...), nil
}

func (c *localComm) reduce(root int, dst, src []byte, t Type, op Op) error {
	parts, err := c.gather(root, src)
	if err != nil || c.rank != root {
		return err
	}
	return reduceParts(dst, parts, t, op)
}

func (c *localComm) allreduce(dst, src []byte, t Type, op Op) error {
	parts, err := c.gather(0, src)
	if err != nil {
		return err
	}
	if c.rank == 0 {
		if err := reduceParts(dst, parts, t, op); err != nil {
			return err
		}
	}
	res, err := c.bcast(0, dst)
	copy(dst, res)
	return err
}

// reduceParts combines the ranks' parts in rank order into dst with op.
func reduceParts(dst []byte, parts [][]byte, t Type, op Op) error {
	for r, p := range parts {
		if len(p) != len(dst) {
			return argError(ErrTruncate, "Reduce", "rank %d sent %d bytes, rank 0 expects %d: buffers differ in length across ranks", r, len(p), len(dst))
		}
	}
	datatype.Reduce(dst, parts, t, op)
	return nil
}

func (c *localComm) split(color, key int) (transport, error) {
	c.splits++
	// Every member learns every (color, key) pair through rank 0, then
	// picks its group.
	pairs, err := c.gather(0, datatype.Bytes([]int64{int64(color), int64(key)}))
	if err != nil {
		return nil, err
	}
	all, err := c.bcast(0, bytes.Join(pairs, nil))
	if err != nil {
		return nil, err
	}
	if color < 0 {
		return nil, nil
	}
	type member struct{ key, rank int }
	var group []member
	for r := range c.ranks {
		ck := all[16*r:]
		if int(int64(binary.NativeEndian.Uint64(ck))) == color {
			group = append(group, member{int(int64(binary.NativeEndian.Uint64(ck[8:]))), r})
		}
	}
	slices.SortStableFunc(group, func(a, b member) int { return cmp.Compare(a.key, b.key) }) // ties stay in rank order
	nc := &localComm{w: c.w, id: fmt.Sprintf("%s/%d.%d", c.id, c.splits, color)}
	for i, m := range group {
		if m.rank == c.rank {
			nc.rank = i
		}
		nc.ranks = append(nc.ranks, c.ranks[m.rank])
	}
	return nc, nil
}
