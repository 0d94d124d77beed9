// Package claim lets a library that communicates on a caller's
// communicator for a while (mpimap's maps) claim it, so that package mpi
// refuses, with a clear error, any other use of it that would interfere —
// a collective, a receive of any tag, a message on a reserved tag — until
// the claim is released. Package mpi, which owns communicators, sets Comm;
// it lives here so that mpimap can call it without package mpi exporting it
// to users.
package claim

// Comm claims c, a communicator of package mpi, for owner (which names it in
// errors, e.g. "a Map"), and returns a handle to c for the owner's own calls,
// which are never refused. ok is false for a communicator that package mpi
// did not make (a wrapper of the caller's): it cannot be claimed, and the
// owner uses c as it is. release ends the claim.
var Comm func(c any, owner string) (handle any, release func(), ok bool)
