package mpimap

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/hpcmap/hpcmap/mpi"
)

// What a communicator's maps share on one rank: the number of maps begun on
// it, which every message carries, so that a map never takes another's
// messages for its own; and the map running on it, so that a second one
// started meanwhile is refused rather than mixed with it.
type commState struct {
	mu     sync.Mutex
	seq    uint64       // maps begun on the communicator
	poison *atomic.Bool // of the running map, nil when none runs: set when another is tried meanwhile
	nodes  []int        // the machine's grouping of the ranks by node (layout.leaderOf), once known
}

// machineLayout is the ranks of user's communicator grouped by node as the
// machine groups them, asked of MPI (through c, the map's handle to it) at
// the first map on it and remembered: the same on every rank, since every
// rank's maps on it begin in the same order.
func machineLayout(user, c mpi.Comm, np int) (layout, error) {
	st := stateOf(user)
	if st != nil {
		st.mu.Lock()
		nodes := st.nodes
		st.mu.Unlock()
		if nodes != nil {
			return layout{leaderOf: nodes}, nil
		}
	}
	l, err := nodeLayout(c, np, 0)
	if err == nil && st != nil {
		st.mu.Lock()
		st.nodes = l.leaderOf
		st.mu.Unlock()
	}
	return l, err
}

// stateOf is c's state, nil for a Comm that is not a pointer.
func stateOf(c mpi.Comm) *commState {
	if reflect.TypeOf(c).Kind() != reflect.Pointer {
		return nil
	}
	v, _ := comms.LoadOrStore(c, &commState{})
	return v.(*commState)
}

var comms sync.Map // mpi.Comm → *commState

// errConcurrent is the error of a map started while another ran on the same
// communicator, and of that other map.
var errConcurrent = errors.New("mpimap: two maps ran at once on one communicator: " +
	"run them one after another, or give each a communicator of its own (Split)")

// errNested is the error of a Map called inside a task.
var errNested = errors.New("mpimap: Map called inside a task of another map: a task must not communicate " +
	"(compute the inner work directly in the task, or map over the combined arguments)")

// begin registers a map on c and returns its sequence number and the flag
// that tells it another map was tried while it ran. A map begun while
// another runs is refused at once, without communicating, and the running
// one is told to fail, when it ends, on every rank: on some ranks the two
// may have begun in the other order, so neither can be trusted. It runs to
// its end rather than failing at once, so that the second map finds it
// running, and is refused, on every rank.
func begin(ctx context.Context, c mpi.Comm) (seq uint64, poisoned *atomic.Bool, end func(), err error) {
	if _, inTask := ctx.Value(workerKey{}).(*workerLog); inTask {
		return 0, nil, func() {}, errNested
	}
	st := stateOf(c)
	if st == nil {
		// A Comm that is not a pointer (a wrapper of the caller's) may not
		// even be usable as a map key: its maps go unguarded.
		return 0, new(atomic.Bool), func() {}, nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.poison != nil {
		st.poison.Store(true)
		return 0, nil, func() {}, errConcurrent
	}
	st.seq++
	flag := new(atomic.Bool)
	st.poison = flag
	return st.seq, flag, func() {
		st.mu.Lock()
		st.poison = nil
		st.mu.Unlock()
	}, nil
}
