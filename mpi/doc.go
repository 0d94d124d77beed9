// Package mpi is the thin layer between hpcmap and the system MPI: a Comm of
// ranks that send byte messages and take part in collectives, and Run, which
// starts and ends an SPMD program.
//
// # Three worlds, one interface
//
// Built with -tags mpi the package binds OpenMPI, with -tags mpich MPICH
// (through cgo and pkg-config; each implementation's flags in a file of its
// own), and with -tags mpicc any MPI whose C compiler wrapper gives the flags
// in CGO_CFLAGS and CGO_LDFLAGS (scripts/mpicc-flags.sh fills them; the
// library then says at run time which implementation it is). The C half of
// the binding is binding.c. Built without tags it needs no MPI at all: Run gives a one-rank world
// that behaves like MPI at np=1, and Local runs n ranks as goroutines, for
// tests and for machines without MPI. A binary started by a launcher that
// disagrees with its build (built without MPI, or for the other MPI) stops at
// once and says how to rebuild.
//
// # Threads
//
// MPI is initialised at MPI_THREAD_SERIALIZED on the main thread, and every
// call is serialised by a lock, so a Comm is safe to share; a goroutine
// blocked in Recv or a collective holds up the others, though, so let one
// goroutine own the communication (mpimap does). The level has a price in
// Open MPI, which takes its internal locks at any level above
// MPI_THREAD_SINGLE: a small collective costs about 0.1 µs more than after a
// plain MPI_Init (make bench shows both). A goroutine that calls MPI back to
// back yields about once a millisecond, so the Go scheduler never takes it
// for a runaway and wakes spare threads that would steal the cores the ranks
// poll on.
//
// # Failure
//
// An error or a panic in main on any rank ends the whole job with a non-zero
// code: a job never hangs on a dead rank and never exits 0 after a failure.
// When every rank fails, as they do when a map fails, each distinct error is
// printed once ("ranks 0-999 on ...") and the ranks finalise and exit 1,
// without MPI's abort banner; a rank that fails alone aborts the job (see
// Run). A rank that leaves without finalising MPI (os.Exit(0) in a task)
// fails the job too: Open MPI's launcher sees to that, and under MPICH's (or
// any launcher that passes PMI_FD) each rank runs as the child of a small
// supervisor process that exits 1 for it; see supervisor.go.
// Communication errors are *Error values carrying MPI's own error string and
// its class, which errors.Is matches (mpi.ErrTruncate, mpi.ErrRank, ...) the
// same way on every implementation; nothing is logged by the package.
//
// Ranks whose calls do not match (one rank calls a collective the others
// never call) hang under MPI until the job's time limit. Local finds them
// instead: a rank waiting for a message that only returned ranks could send
// gets ErrDeadlock, naming who waits for whom, so a test with such a bug fails
// at once.
//
// # Limits
//
// Messages of any length are sent whole (those over MPI's 2 GiB int count
// travel as one element of a derived datatype). Gather and Scatter use
// MPI_Gatherv and MPI_Scatterv, whose displacements are ints: at most 2 GiB in
// all. Tags run from 0 to MaxTag; mpimap uses those from ReservedTag up.
package mpi
