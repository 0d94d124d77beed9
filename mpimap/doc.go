// Package mpimap is a parallel map over the ranks of an MPI job: as easy as a
// for loop, for parameter scans of hundreds to millions of tasks.
//
//	results, err := mpimap.Map(ctx, world, args, fn, mpimap.WithSchedule(mpimap.Dynamic))
//
// Map is collective: every rank calls it with the same arguments. Tasks are
// shared among ranks by a Schedule (Block, the default, Cyclic, Dynamic or
// Guided) and run on WithWorkers goroutines inside each rank (by default
// GOMAXPROCS, which under Slurm's CPU binding is the CPUs per task, so one
// rank per node with many goroutines is a first-class layout). Rank 0 computes
// too, unless WithoutRoot. Results arrive on rank 0 in argument order as the
// tasks finish, so rank 0 holds the results and little more.
//
// # Same results, whatever the layout
//
// Results do not depend on the number of ranks, the schedule, the chunk or
// the workers: only task indices and results cross ranks. Random streams
// should belong to tasks (seeded by a seed and the task index), never to
// ranks or goroutines. Grid builds the Cartesian product of parameter lists
// with a stable index for every point.
//
// Map gives every rank the arguments. MapN and EachN give tasks an index
// alone; with WithInput, rank 0 alone holds what tasks read, and sends each
// dealt task its bytes, which the task reads with TaskInput.
//
// # Failures
//
// A task that returns an error or panics becomes a *TaskError naming the
// task, the rank and the host; the other tasks still run and keep their
// results. Every rank returns a non-nil error exactly when some task failed or
// the map could not run, so the ranks of an SPMD program take the same branch.
// Mistakes are errors on every rank before any task runs: a nil fn, a bad
// option, options or argument counts that differ across ranks, a result type
// that cannot cross ranks. A cancelled context (mpi.Run cancels it on SIGTERM
// and SIGINT) stops new tasks; Map then returns what was computed and an error
// wrapping ErrInterrupted on every rank.
//
// # Threads and messages
//
// Only the goroutine that calls Map communicates, which is what MPI wants;
// fn runs on other goroutines and must not use the communicator. Fixed-size
// results (numbers, bools, arrays and structs of them) cross as raw memory;
// other types through encoding/gob. Map uses the tags from mpi.ReservedTag up.
package mpimap
