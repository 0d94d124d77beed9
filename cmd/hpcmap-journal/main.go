// Hpcmap-journal tells how far the maps that wrote some journals got: for
// each file that mpimap.WithJournal wrote, how many of the map's tasks have a
// result in it.
//
// Usage:
//
//	hpcmap-journal FILE...
//
// It prints a line per file, "FILE: DONE of TASKS tasks done", and only
// reads: it may watch the journal of a running job, or tell what a job killed
// at its time limit left for the next run. It exits 1 if some file is not a
// readable journal, 2 for a bad command line.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/hpcmap/hpcmap/mpimap"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the command with its arguments; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: hpcmap-journal FILE...\n\nsays how many of its map's tasks each journal written by mpimap.WithJournal holds")
		return 2
	}
	code := 0
	for _, path := range args {
		done, tasks, err := mpimap.JournalProgress(path)
		if err != nil {
			fmt.Fprintf(stderr, "hpcmap-journal: %v\n", err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: %d of %d tasks done\n", path, done, tasks)
	}
	return code
}
