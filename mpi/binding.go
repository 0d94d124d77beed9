//go:build (mpi || mpich || mpicc) && !(mpi && mpich) && !(mpi && mpicc) && !(mpich && mpicc)

package mpi

/*
#include "binding.h"

// Blocking MPI calls keep no pointer past their return and never call back
// into Go: telling cgo so keeps their buffers and status words off the heap
// (no garbage per call in polling loops) and makes each call cheaper.
#cgo noescape hp_send
#cgo nocallback hp_send
#cgo noescape hp_recv
#cgo nocallback hp_recv
#cgo noescape hp_probe
#cgo nocallback hp_probe
#cgo noescape hp_iprobe
#cgo nocallback hp_iprobe
#cgo noescape hp_probe_recv
#cgo nocallback hp_probe_recv
#cgo noescape hp_bcast_len
#cgo nocallback hp_bcast_len
#cgo noescape hp_bcast
#cgo nocallback hp_bcast
#cgo noescape hp_gather_counts
#cgo nocallback hp_gather_counts
#cgo noescape hp_gatherv
#cgo nocallback hp_gatherv
#cgo noescape hp_scatter_counts
#cgo nocallback hp_scatter_counts
#cgo noescape hp_scatterv
#cgo nocallback hp_scatterv
#cgo noescape hp_reduce
#cgo nocallback hp_reduce
#cgo noescape hp_allreduce
#cgo nocallback hp_allreduce
#cgo noescape hp_split
#cgo nocallback hp_split
#cgo noescape hp_node_leader
#cgo nocallback hp_node_leader
#cgo nocallback MPI_Barrier
#cgo noescape hp_dup
#cgo nocallback hp_dup
#cgo noescape hp_ibarrier
#cgo nocallback hp_ibarrier
#cgo noescape hp_test
#cgo nocallback hp_test
#cgo nocallback hp_isend
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"unsafe"
)

// mpiComm is a communicator of the system MPI.
type mpiComm struct {
	comm       C.MPI_Comm
	rank, size int
	host       string
	// scratch receives a message for a caller who gave no buffer, so that
	// a short one takes one call into C (then a copy), not two; guarded by
	// the lock around MPI calls.
	scratch [512]byte
}

func newMPIComm(comm C.MPI_Comm) (*mpiComm, error) {
	serial.Lock()
	defer serial.Unlock()
	var rank, size, length C.int
	if code := C.MPI_Comm_rank(comm, &rank); code != C.MPI_SUCCESS {
		return nil, mpiError("Comm_rank", code)
	}
	if code := C.MPI_Comm_size(comm, &size); code != C.MPI_SUCCESS {
		return nil, mpiError("Comm_size", code)
	}
	var name [C.MPI_MAX_PROCESSOR_NAME + 1]C.char
	if code := C.MPI_Get_processor_name(&name[0], &length); code != C.MPI_SUCCESS {
		return nil, mpiError("Get_processor_name", code)
	}
	return &mpiComm{comm: comm, rank: int(rank), size: int(size), host: C.GoStringN(&name[0], length)}, nil
}

func mpiError(op string, code C.int) error {
	var buf [C.MPI_MAX_ERROR_STRING + 1]C.char
	var class C.int
	C.hp_error(code, &buf[0], &class)
	return &Error{Op: op, Code: int(code), Msg: C.GoString(&buf[0]), Class: errorClass(class)}
}

// errorClass is the class error of an MPI error class; MPI's values differ
// between implementations, and are only named here, through C.
func errorClass(class C.int) error {
	switch class {
	case C.MPI_ERR_TRUNCATE:
		return ErrTruncate
	case C.MPI_ERR_RANK, C.MPI_ERR_ROOT:
		return ErrRank
	case C.MPI_ERR_TAG:
		return ErrTag
	case C.MPI_ERR_COUNT:
		return ErrCount
	case C.MPI_ERR_BUFFER:
		return ErrBuffer
	case C.MPI_ERR_TYPE:
		return ErrType
	case C.MPI_ERR_OP:
		return ErrOp
	case C.MPI_ERR_COMM:
		return ErrComm
	}
	return ErrOther
}

// call runs one MPI call under the lock and turns its code into an error.
func call(op string, f func() C.int) error {
	serial.Lock()
	code := f()
	serial.Unlock()
	if code != C.MPI_SUCCESS {
		return mpiError(op, code)
	}
	return nil
}

// ptr is the address of b's data, or nil for an empty slice. The C helpers
// take their buffers as char* rather than void*: cgo checks every
// unsafe.Pointer argument for Go pointers inside the memory it points to (6%
// of a rank's time in a loop of Allreduce), but not a pointer to plain bytes.
func ptr(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// intPtr is the address of s's first element, or nil for an empty slice.
func intPtr(s []C.int) *C.int {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func (c *mpiComm) place() (int, int, string) { return c.rank, c.size, c.host }

func (c *mpiComm) abort(code int) {
	// Not under the lock: another goroutine may be blocked in MPI holding it,
	// and aborting is exactly what must still work then.
	C.MPI_Abort(c.comm, C.int(code))
	os.Exit(code) // MPI_Abort does not return; this is for the implementation that does
}

// stranded aborts the job: the other ranks may be waiting in the collective
// whose arguments were wrong on this one, and would wait for ever.
func (c *mpiComm) stranded(err error) error {
	fmt.Fprintf(os.Stderr, "rank %d on %s: %v\n", c.rank, c.host, err)
	c.abort(1)
	return err
}

func (c *mpiComm) send(dst, tag int, data []byte) error {
	return call("Send", func() C.int {
		return C.hp_send(c.comm, ptr(data), C.longlong(len(data)), C.int(dst), C.int(tag))
	})
}

func (c *mpiComm) isend(dst, tag int, data []byte) (Request, error) {
	r := &mpiRequest{}
	if len(data) > 0 {
		r.pin.Pin(&data[0]) // MPI reads the buffer after this call returns
	}
	err := call("Isend", func() C.int {
		return C.hp_isend(c.comm, ptr(data), C.longlong(len(data)), C.int(dst), C.int(tag), &r.req)
	})
	if err != nil {
		r.pin.Unpin()
		return nil, err
	}
	return r, nil
}

// mpiRequest is an MPI_Request, and the pin that keeps its buffer in place.
type mpiRequest struct {
	req  C.MPI_Request
	pin  runtime.Pinner
	done bool
}

func (r *mpiRequest) Test() (bool, error) {
	if r.done {
		return true, nil
	}
	var flag C.int
	if err := call("Test", func() C.int { return C.hp_test(&r.req, &flag) }); err != nil {
		return false, err
	}
	if flag != 0 {
		r.done = true
		r.pin.Unpin()
	}
	return r.done, nil
}

// Wait polls rather than blocking in MPI_Wait, so that other goroutines'
// calls are not held up behind the lock.
func (r *mpiRequest) Wait() error {
	for {
		done, err := r.Test()
		if done || err != nil {
			return err
		}
		runtime.Gosched()
	}
}

// recv probes for a message, waiting for one if block is set, and receives
// it, both under one hold of the lock so that no other goroutine's receive
// takes the probed message in between, and in one call into C when the
// message fits in dst's capacity.
func (c *mpiComm) recv(dst []byte, src, tag int, block bool) ([]byte, Status, bool, error) {
	op := "TryRecv"
	if block {
		op = "Recv"
	}
	serial.Lock()
	defer serial.Unlock()
	var flag, osrc, otag, got C.int
	var n C.longlong
	buf := dst[:cap(dst)]
	if cap(dst) == 0 {
		buf = c.scratch[:]
	}
	blockInt := C.int(0)
	if block {
		blockInt = 1
	}
	code := C.hp_probe_recv(c.comm, C.int(src), C.int(tag), blockInt, ptr(buf), C.longlong(len(buf)),
		&flag, &osrc, &otag, &n, &got)
	if code != C.MPI_SUCCESS || flag == 0 {
		return nil, Status{}, false, mpiErrorOrNil(op, code)
	}
	switch {
	case got == 0: // too long: receive the probed message into a new buffer
		buf = make([]byte, int(n))
		if code := C.hp_recv(c.comm, ptr(buf), n, osrc, otag); code != C.MPI_SUCCESS {
			return nil, Status{}, false, mpiError(op, code)
		}
	case cap(dst) == 0: // in scratch: the caller gets a slice of its own
		buf = append([]byte(nil), buf[:n]...)
	}
	return buf[:n], Status{Source: int(osrc), Tag: int(otag), Count: int(n)}, true, nil
}

func mpiErrorOrNil(op string, code C.int) error {
	if code == C.MPI_SUCCESS {
		return nil
	}
	return mpiError(op, code)
}

func (c *mpiComm) probe(src, tag int, block bool) (Status, bool, error) {
	var flag, osrc, otag C.int
	var n C.longlong
	if block {
		err := call("Probe", func() C.int { return C.hp_probe(c.comm, C.int(src), C.int(tag), &osrc, &otag, &n) })
		return Status{Source: int(osrc), Tag: int(otag), Count: int(n)}, err == nil, err
	}
	err := call("Iprobe", func() C.int {
		return C.hp_iprobe(c.comm, C.int(src), C.int(tag), &flag, &osrc, &otag, &n)
	})
	if err != nil || flag == 0 {
		return Status{}, false, err
	}
	return Status{Source: int(osrc), Tag: int(otag), Count: int(n)}, true, nil
}

func (c *mpiComm) barrier() error {
	return call("Barrier", func() C.int { return C.MPI_Barrier(c.comm) })
}

func (c *mpiComm) bcast(root int, data []byte) ([]byte, error) {
	n := C.longlong(len(data))
	if err := call("Bcast", func() C.int { return C.hp_bcast_len(c.comm, &n, C.int(root)) }); err != nil {
		return nil, err
	}
	buf := make([]byte, int(n))
	if c.rank == root {
		copy(buf, data)
	}
	err := call("Bcast", func() C.int { return C.hp_bcast(c.comm, ptr(buf), n, C.int(root)) })
	return buf, err
}

// layout checks that parts fit the int counts and displacements of
// MPI_Gatherv and MPI_Scatterv, and lays them out.
func layout(op string, lens []int) (counts, displs []C.int, total int, err error) {
	counts = make([]C.int, len(lens))
	displs = make([]C.int, len(lens))
	for r, n := range lens {
		if total+n > math.MaxInt32 {
			return nil, nil, 0, argError(ErrCount, op, "%d bytes in all exceed MPI's 2 GiB limit for this collective", total+n)
		}
		counts[r], displs[r] = C.int(n), C.int(total)
		total += n
	}
	return counts, displs, total, nil
}

func (c *mpiComm) gather(root int, data []byte) ([][]byte, error) {
	n := C.int(len(data))
	var lens []C.int
	if c.rank == root {
		lens = make([]C.int, c.size)
	}
	if err := call("Gather", func() C.int { return C.hp_gather_counts(c.comm, &n, intPtr(lens), C.int(root)) }); err != nil {
		return nil, err
	}
	var counts, displs []C.int
	var all []byte
	if c.rank == root {
		ints := make([]int, len(lens))
		for r, l := range lens {
			ints[r] = int(l)
		}
		var total int
		var err error
		if counts, displs, total, err = layout("Gather", ints); err != nil {
			return nil, err
		}
		all = make([]byte, total)
	}
	err := call("Gather", func() C.int {
		return C.hp_gatherv(c.comm, ptr(data), n, ptr(all), intPtr(counts), intPtr(displs), C.int(root))
	})
	if err != nil || c.rank != root {
		return nil, err
	}
	parts := make([][]byte, c.size)
	for r := range parts {
		parts[r] = all[displs[r] : displs[r]+counts[r] : displs[r]+counts[r]]
	}
	return parts, nil
}

func (c *mpiComm) scatter(root int, parts [][]byte) ([]byte, error) {
	var counts, displs []C.int
	var all []byte
	if c.rank == root {
		lens := make([]int, len(parts))
		for r, p := range parts {
			lens[r] = len(p)
		}
		var total int
		var err error
		if counts, displs, total, err = layout("Scatter", lens); err != nil {
			return nil, c.stranded(err)
		}
		all = make([]byte, 0, total)
		for _, p := range parts {
			all = append(all, p...)
		}
	}
	var n C.int
	if err := call("Scatter", func() C.int { return C.hp_scatter_counts(c.comm, intPtr(counts), &n, C.int(root)) }); err != nil {
		return nil, err
	}
	buf := make([]byte, int(n))
	err := call("Scatter", func() C.int {
		return C.hp_scatterv(c.comm, ptr(all), intPtr(counts), intPtr(displs), ptr(buf), n, C.int(root))
	})
	return buf, err
}

func (c *mpiComm) reduce(root int, dst, src []byte, t Type, op Op) error {
	n := C.int(len(src) / t.Size())
	return call("Reduce", func() C.int {
		return C.hp_reduce(c.comm, ptr(dst), ptr(src), n, C.int(t), C.int(op), C.int(root))
	})
}

func (c *mpiComm) allreduce(dst, src []byte, t Type, op Op) error {
	n := C.int(len(src) / t.Size())
	return call("Allreduce", func() C.int {
		return C.hp_allreduce(c.comm, ptr(dst), ptr(src), n, C.int(t), C.int(op))
	})
}

// MPI's handles for each Type and Op are named here, through C: their
// values differ between implementations. The C helpers look them up by
// number.
func init() {
	types := [...]C.MPI_Datatype{
		Int8: C.MPI_INT8_T, Int16: C.MPI_INT16_T, Int32: C.MPI_INT32_T, Int64: C.MPI_INT64_T,
		Uint8: C.MPI_UINT8_T, Uint16: C.MPI_UINT16_T, Uint32: C.MPI_UINT32_T, Uint64: C.MPI_UINT64_T,
		Float32: C.MPI_FLOAT, Float64: C.MPI_DOUBLE,
	}
	for t, h := range types {
		C.hp_set_type(C.int(t), h)
	}
	ops := [...]C.MPI_Op{Sum: C.MPI_SUM, Prod: C.MPI_PROD, Min: C.MPI_MIN, Max: C.MPI_MAX}
	for o, h := range ops {
		C.hp_set_op(C.int(o), h)
	}
}

func (c *mpiComm) split(color, key int) (transport, error) {
	var out C.MPI_Comm
	var isNull C.int
	if err := call("Split", func() C.int { return C.hp_split(c.comm, C.int(color), C.int(key), &out, &isNull) }); err != nil {
		return nil, err
	}
	if isNull != 0 {
		return nil, nil
	}
	nc, err := newMPIComm(out)
	if err != nil {
		return nil, err
	}
	return nc, nil
}

func (c *mpiComm) nodeLeader() (int, error) {
	var leader C.int
	err := call("Comm_split_type", func() C.int { return C.hp_node_leader(c.comm, &leader) })
	return int(leader), err
}

// setMessageBlock lowers the size above which a message travels as a derived
// type, so that tests can exercise the path for messages over 2 GiB.
func setMessageBlock(n int) { C.hp_set_block(C.longlong(n)) }
