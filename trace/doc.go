// Package trace owns the task trace that mpimap.WithTrace writes: the row,
// the status values, the header, a Writer and a Reader, and what a trace says
// about a map as a whole (Summarize, Lanes). It draws nothing and links no
// plotting library; package trace/gantt draws a trace as a Gantt chart.
//
// A trace is a CSV file with the Header line
//
//	index,rank,host,worker,start,end,attempt,status
//
// and one row per attempt at a task, in any order: the task's index in the
// map's arguments, the rank, host and worker goroutine that ran it, its start
// and end in seconds since the map began on that rank's clock, the attempt
// number from 1, and its status, ok, failed or panicked.
//
// A trace may be read while the map that writes it runs, or after the map was
// killed: its writer writes whole rows, at least once a second, and a Reader
// skips a last line without its line break (one a kill cut short) and says so.
//
// Summarize puts a number on how well a map's tasks were spread: the idle
// fraction of the workers' time. Under the Block schedule every rank gets the
// same number of tasks, so when tasks cost unequal time some lanes finish
// early and sit idle until the slowest one ends; under Dynamic the lanes end
// together.
//
// The command hpcmap trace (cmd/hpcmap) turns a trace file into a PNG.
package trace
