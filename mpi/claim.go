package mpi

import (
	"sync/atomic"

	"github.com/hpcmap/hpcmap/internal/claim"
)

// claimState is who, if anyone, is using a communicator meanwhile; a comm
// and the claimant's handle to it share it.
type claimState struct {
	owner atomic.Pointer[string] // nil when free
}

func init() { claim.Comm = claimComm }

// claimComm is claim.Comm for the communicators of this package.
func claimComm(c any, owner string) (any, func(), bool) {
	cc, ok := c.(*comm)
	if !ok {
		return c, func() {}, false
	}
	cc.claim.owner.Store(&owner)
	handle := *cc
	handle.claimant = true
	return &handle, func() { cc.claim.owner.Store(nil) }, true
}

// checkFree refuses op on a communicator that another is using meanwhile.
func (c *comm) checkFree(op string) error {
	owner := c.claim.owner.Load()
	if c.claimant || owner == nil {
		return nil
	}
	return argError(ErrInUse, op, "%s is running on this communicator: a task must not communicate, "+
		"and other calls on it wait for the map to end (or use a communicator of their own: Split)", *owner)
}
