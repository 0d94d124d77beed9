package mpi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

func TestMain(m *testing.M) { mpitest.Main(m) }

var sizes = []int{1, 2, 3, 4, 7}

func TestPointToPoint(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		// Every rank sends to rank 0 twice, with two tags; messages from one
		// sender must not overtake each other.
		if r != 0 {
			for k := range 2 {
				if err := c.Send(0, 5+k, []byte(fmt.Sprintf("%d:%d", r, k))); err != nil {
					return err
				}
			}
			// An empty message is a message.
			if err := c.Send(0, 9, nil); err != nil {
				return err
			}
			return nil
		}
		seen := map[int][]string{}
		for range 2 * (n - 1) {
			b, st, err := c.Recv(mpi.AnySource, mpi.AnyTag)
			if err != nil {
				return err
			}
			if st.Count != len(b) {
				return fmt.Errorf("status count %d for %d bytes", st.Count, len(b))
			}
			// From one sender, tag 5 comes before tag 6 before tag 9.
			if want := fmt.Sprintf("%d:%d", st.Source, st.Tag-5); string(b) != want {
				return fmt.Errorf("got %q from %d tag %d, want %q", b, st.Source, st.Tag, want)
			}
			seen[st.Source] = append(seen[st.Source], string(b))
			if st.Tag == 6 {
				st, err := c.Probe(st.Source, mpi.AnyTag)
				if err != nil || st.Count != 0 || st.Tag != 9 {
					return fmt.Errorf("probe of the empty message: %+v, %v", st, err)
				}
				if b, _, err := c.Recv(st.Source, 9); err != nil || len(b) != 0 {
					return fmt.Errorf("empty message: %q, %v", b, err)
				}
			}
		}
		for src := 1; src < n; src++ {
			if len(seen[src]) != 2 {
				return fmt.Errorf("rank %d: got %d messages, want 2", src, len(seen[src]))
			}
		}
		if _, ok, err := c.Iprobe(mpi.AnySource, mpi.AnyTag); ok || err != nil {
			return fmt.Errorf("Iprobe found a message after all were received (err %v)", err)
		}
		return nil
	})
}

func TestCollectives(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		root := n - 1
		if err := c.Barrier(); err != nil {
			return err
		}
		var mine []byte
		if r == root {
			mine = []byte("from the root")
		}
		got, err := c.Bcast(root, mine)
		if err != nil {
			return err
		}
		if string(got) != "from the root" {
			return fmt.Errorf("Bcast: rank %d got %q", r, got)
		}
		// Gather parts of different lengths, one of them empty.
		parts, err := c.Gather(root, bytes.Repeat([]byte{byte(r)}, r))
		if err != nil {
			return err
		}
		if r == root {
			for q, p := range parts {
				if !bytes.Equal(p, bytes.Repeat([]byte{byte(q)}, q)) {
					return fmt.Errorf("Gather: part %d is %v", q, p)
				}
			}
		} else if parts != nil {
			return fmt.Errorf("Gather: non-root rank %d got %d parts", r, len(parts))
		}
		var out [][]byte
		if r == root {
			for q := range n {
				out = append(out, []byte(fmt.Sprint("part ", q)))
			}
		}
		part, err := c.Scatter(root, out)
		if err != nil {
			return err
		}
		if string(part) != fmt.Sprint("part ", r) {
			return fmt.Errorf("Scatter: rank %d got %q", r, part)
		}
		return nil
	})
}

// reduceCase checks one element type and one operation against a Go
// reduction over the values every rank contributes.
func reduceCase[T mpi.Number](c mpi.Comm, op mpi.Op, value func(rank, i int) T) error {
	const count = 5
	src := make([]T, count)
	for i := range src {
		src[i] = value(c.Rank(), i)
	}
	want := make([]T, count)
	for i := range want {
		want[i] = value(0, i)
		for q := 1; q < c.Size(); q++ {
			v := value(q, i)
			switch op {
			case mpi.Sum:
				want[i] += v
			case mpi.Prod:
				want[i] *= v
			case mpi.Min:
				want[i] = min(want[i], v)
			case mpi.Max:
				want[i] = max(want[i], v)
			}
		}
	}
	// A wrong value is reported, and the next call made all the same, so
	// that the ranks stay in step; a failed call ends the case.
	var wrong []error
	dst := make([]T, count)
	if err := c.Allreduce(mpi.Bytes(dst), mpi.Bytes(src), mpi.TypeOf[T](), op); err != nil {
		return err
	}
	if !slices.Equal(dst, want) {
		wrong = append(wrong, fmt.Errorf("Allreduce %v of %T: got %v, want %v", op, dst[0], dst, want))
	}
	clear(dst)
	if err := c.Reduce(0, mpi.Bytes(dst), mpi.Bytes(src), mpi.TypeOf[T](), op); err != nil {
		return errors.Join(append(wrong, err)...)
	}
	if c.Rank() == 0 && !slices.Equal(dst, want) {
		wrong = append(wrong, fmt.Errorf("Reduce %v of %T: got %v, want %v", op, dst[0], dst, want))
	}
	return errors.Join(wrong...)
}

// TestReduceEveryTypeAndOp reports every type and operation that fails, not
// only the first.
func TestReduceEveryTypeAndOp(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		var errs []error
		for _, op := range []mpi.Op{mpi.Sum, mpi.Prod, mpi.Min, mpi.Max} {
			// Values small enough that no type overflows at np=8.
			errs = append(errs,
				reduceCase(c, op, func(r, i int) int8 { return int8((r+i)%3 - 1) }),
				reduceCase(c, op, func(r, i int) int16 { return int16(r*7 - i) }),
				reduceCase(c, op, func(r, i int) int32 { return int32(r - 3*i) }),
				reduceCase(c, op, func(r, i int) int64 { return int64(r+1) << 20 * int64(i-2) }),
				reduceCase(c, op, func(r, i int) int { return r - i }),
				reduceCase(c, op, func(r, i int) uint8 { return uint8((r + i) % 2) }),
				reduceCase(c, op, func(r, i int) uint16 { return uint16(r + i) }),
				reduceCase(c, op, func(r, i int) uint32 { return uint32(r*i + 1) }),
				reduceCase(c, op, func(r, i int) uint64 { return uint64(r+i) % 3 }),
				reduceCase(c, op, func(r, i int) uint { return uint(r + 2*i) }),
				reduceCase(c, op, func(r, i int) float32 { return float32(r) - float32(i)/2 }),
				reduceCase(c, op, func(r, i int) float64 { return float64(r)*0.5 - float64(i) }),
			)
		}
		return errors.Join(errs...)
	})
}

func TestTypedHelpers(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		mine := make([]float64, r+1)
		for i := range mine {
			mine[i] = float64(r*10 + i)
		}
		all, err := mpi.AllgatherSlice(c, mine)
		if err != nil {
			return err
		}
		if len(all) != n {
			return fmt.Errorf("AllgatherSlice: %d parts", len(all))
		}
		for q, p := range all {
			if len(p) != q+1 || p[q] != float64(q*10+q) {
				return fmt.Errorf("AllgatherSlice: part %d is %v", q, p)
			}
		}
		got, err := mpi.BcastSlice(c, 0, []int32{int32(r + 7), 3})
		if err != nil {
			return err
		}
		if !slices.Equal(got, []int32{7, 3}) {
			return fmt.Errorf("BcastSlice: %v", got)
		}
		if n > 1 {
			if r == 1 {
				if err := mpi.SendSlice(c, 0, 3, []uint16{1, 2, 65535}); err != nil {
					return err
				}
			}
			if r == 0 {
				s, st, err := mpi.RecvSlice[uint16](c, 1, 3)
				if err != nil || st.Source != 1 || !slices.Equal(s, []uint16{1, 2, 65535}) {
					return fmt.Errorf("RecvSlice: %v %+v %v", s, st, err)
				}
			}
		}
		return nil
	})
}

func TestSplit(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r := c.Rank()
		// Even and odd ranks, each group in reverse rank order; rank 2 opts out.
		color := r % 2
		if r == 2 {
			color = -1
		}
		sub, err := c.Split(color, -r)
		if err != nil {
			return err
		}
		if r == 2 {
			if sub != nil {
				return fmt.Errorf("negative color gave a communicator")
			}
			return nil
		}
		var members []int
		for q := c.Size() - 1; q >= 0; q-- {
			if q%2 == color && q != 2 {
				members = append(members, q)
			}
		}
		if sub.Size() != len(members) || members[sub.Rank()] != r {
			return fmt.Errorf("rank %d: sub rank %d of %d, want index in %v", r, sub.Rank(), sub.Size(), members)
		}
		// Collectives on the sub-communicator do not mix with the world's.
		sum := make([]int64, 1)
		if err := sub.Allreduce(mpi.Bytes(sum), mpi.Bytes([]int64{int64(r)}), mpi.Int64, mpi.Sum); err != nil {
			return err
		}
		var want int64
		for _, q := range members {
			want += int64(q)
		}
		if sum[0] != want {
			return fmt.Errorf("sub-communicator sum %d, want %d", sum[0], want)
		}
		return nil
	})
}

func TestArgumentErrors(t *testing.T) {
	mpitest.Worlds(t, []int{2}, func(ctx context.Context, c mpi.Comm) error {
		cases := []struct {
			name string
			err  error
		}{
			{"send to a rank past the end", c.Send(c.Size(), 0, nil)},
			{"send with a negative tag", c.Send(0, -3, nil)},
			{"send with a tag over MaxTag", c.Send(0, mpi.MaxTag+1, nil)},
			{"reduce of a ragged buffer", c.Allreduce(make([]byte, 3), make([]byte, 3), mpi.Float64, mpi.Sum)},
			{"reduce with dst too short", c.Allreduce(make([]byte, 8), make([]byte, 16), mpi.Float64, mpi.Sum)},
			{"reduce with a bad op", c.Allreduce(make([]byte, 8), make([]byte, 8), mpi.Float64, mpi.Op(9))},
		}
		for _, tc := range cases {
			var me *mpi.Error
			if !errorsAs(tc.err, &me) {
				return fmt.Errorf("%s: got %v, want an *mpi.Error", tc.name, tc.err)
			}
		}
		return nil
	})
}

// TestIsendBothWays has every pair of ranks send each other a message far
// above any eager limit at the same moment: with blocking sends both would
// wait for the other to receive; with Isend both complete.
func TestIsendBothWays(t *testing.T) {
	mpitest.Worlds(t, sizes, func(ctx context.Context, c mpi.Comm) error {
		r, n := c.Rank(), c.Size()
		big := func(from int) []byte { return bytes.Repeat([]byte{byte(from)}, 1<<20) }
		var reqs []mpi.Request
		msg := big(r)
		for q := range n {
			if q != r {
				req, err := c.Isend(q, 8, msg)
				if err != nil {
					return err
				}
				reqs = append(reqs, req)
			}
		}
		for range n - 1 {
			b, st, err := c.Recv(mpi.AnySource, 8)
			if err != nil {
				return err
			}
			if !bytes.Equal(b, big(st.Source)) {
				return fmt.Errorf("rank %d: message from %d damaged", r, st.Source)
			}
		}
		for _, req := range reqs {
			if err := req.Wait(); err != nil {
				return err
			}
			if done, err := req.Test(); !done || err != nil {
				return fmt.Errorf("a waited request tests as not done (%v)", err)
			}
		}
		return nil
	})
}

func TestTryRecvReusesDst(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		const tag = 4
		sizes := []int{5, 0, 100, 10} // fits, empty, too long for dst, exactly fills it
		sender := c.Size() - 1        // rank 0 itself at np=1
		var reqs []mpi.Request
		if c.Rank() == sender {
			for _, n := range sizes {
				req, err := c.Isend(0, tag, bytes.Repeat([]byte{byte(n)}, n))
				if err != nil {
					return err
				}
				reqs = append(reqs, req)
			}
		}
		if c.Rank() == 0 {
			dst := make([]byte, 3, 10)
			deadline := time.Now().Add(10 * time.Second)
			for _, n := range sizes {
				var b []byte
				var st mpi.Status
				for ok := false; !ok; {
					var err error
					if b, st, ok, err = c.TryRecv(dst, mpi.AnySource, tag); err != nil {
						return err
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("no message of %d bytes within 10 s", n)
					}
				}
				if !bytes.Equal(b, bytes.Repeat([]byte{byte(n)}, n)) || st.Count != n || st.Source != sender {
					return fmt.Errorf("message of %d bytes: got %d bytes %v, status %+v", n, len(b), b, st)
				}
				if inDst := n > 0 && &b[0] == &dst[:1][0]; inDst != (n > 0 && n <= cap(dst)) {
					return fmt.Errorf("message of %d bytes into a dst of capacity %d: received in dst: %v", n, cap(dst), inDst)
				}
			}
			if _, _, ok, err := c.TryRecv(dst, mpi.AnySource, mpi.AnyTag); ok || err != nil {
				return fmt.Errorf("TryRecv found a message after all were received (%v)", err)
			}
		}
		for _, req := range reqs {
			if err := req.Wait(); err != nil {
				return err
			}
		}
		return c.Barrier()
	})
}

// TestImplementation checks that the library the tests run on is the one the
// build names: the mpicc build asks the library itself.
func TestImplementation(t *testing.T) {
	got := mpi.Implementation()
	if !mpitest.RealMPI() {
		if got != "" {
			t.Errorf("a build without MPI says it runs on %q", got)
		}
		return
	}
	want := "OpenMPI"
	if os.Getenv("OMPI_COMM_WORLD_SIZE") == "" {
		want = "MPICH" // the launchers the tests run under
	}
	if got != want {
		t.Errorf("Implementation() = %q under %s's launcher", got, want)
	}
}
