// Package trace reads the task traces that mpimap.WithTrace writes and draws
// them as Gantt charts, to see how a map's tasks were spread over ranks and
// workers, and where they waited.
//
// A trace is a CSV file with the Header line
//
//	index,rank,host,worker,start,end,attempt,status
//
// and one row per attempt at a task, in any order: the task's index in the
// map's arguments, the rank, host and worker goroutine that ran it, its start
// and end in seconds since the map began on that rank's clock, the attempt
// number from 1, and its status, ok, failed or panicked. ReadCSV reads one
// and WriteCSV writes one.
//
// Gantt draws a trace with gonum's plot, one lane per worker of each rank, and
// WritePNG saves the drawing. What to look for: under the Block schedule every
// rank gets the same number of tasks, so when tasks cost unequal time some
// lanes finish early and sit idle until the slowest one ends, which shows as
// long pale red tails; under Dynamic the lanes end together. Summarize puts a
// number on it: the idle fraction of the workers' time.
//
// The command hpcmap-trace (cmd/hpcmap-trace) turns a trace file into a PNG.
package trace
