//go:build (mpi || mpich || mpicc) && !(mpi && mpich) && !(mpi && mpicc) && !(mpich && mpicc)

package mpi

import (
	"runtime"
	"sync"
	"time"
)

// serial serialises every MPI call: MPI_THREAD_SERIALIZED lets any thread call
// MPI, but only one at a time. Go moves goroutines between threads, and tests
// run off the main thread, so this level is the least that works.
var serial serializer

// serializer is a mutex whose unlock also yields the calling goroutine about
// once a millisecond of back-to-back MPI calls.
//
// A goroutine that does nothing but short cgo calls (a polling loop, a run of
// collectives) is never rescheduled. The runtime's sysmon then deems it to
// have run too long (10 ms) and from there on takes its P away during a cgo
// call at every tick, as often as every 20 µs, waking a spare thread that
// finds nothing to do. With every core busy polling MPI, each such wake-up
// takes a core from a rank. Measured at np=2 on 2 cores with Open MPI, 600 k
// calls of Comm.Allreduce: 0.69-1.57 µs a call and 14-32 k context switches
// before, 0.57-0.63 µs and 1.1-1.5 k with the yield.
type serializer struct {
	mu      sync.Mutex
	calls   uint32
	yielded time.Time
}

const (
	yieldCheckEvery = 64               // calls between looks at the clock
	yieldPeriod     = time.Millisecond // well under the runtime's 10 ms
)

func (s *serializer) Lock() { s.mu.Lock() }

func (s *serializer) Unlock() {
	s.calls++
	yield := false
	if s.calls%yieldCheckEvery == 0 {
		if now := time.Now(); now.Sub(s.yielded) >= yieldPeriod {
			s.yielded, yield = now, true
		}
	}
	s.mu.Unlock()
	if yield {
		runtime.Gosched()
	}
}
