// Hpcmap is the hpcmap toolkit's command: one binary, with a subcommand per
// tool.
//
// Usage:
//
//	hpcmap farm [OPTIONS] COMMAND ::: ARGS...   # GNU Parallel's command line over MPI ranks
//	hpcmap journal [-v] FILE...                  # how far the maps that wrote these journals got
//	hpcmap trace [-o out.png] trace.csv          # a map's trace as a Gantt chart
//
// Each subcommand lives in a file of its own and adds itself to commands;
// hpcmap with no subcommand, or -h, lists them.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is a subcommand: run gets the arguments after its name and
// returns the exit status.
type command struct {
	summary string
	run     func(args []string) int
}

// commands are the subcommands by name; each file of this package that
// defines one adds it in an init.
var commands = map[string]command{}

func main() { os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr)) }

// dispatch runs the subcommand that args name. Help asked for goes to
// stdout with status 0, as the subcommands' -h does; a missing or unknown
// subcommand is a usage error.
func dispatch(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		listCommands(stderr)
		return 2
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		listCommands(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hpcmap: no subcommand %q\n\n", args[0])
		listCommands(stderr)
		return 2
	}
	return c.run(args[1:])
}

func listCommands(w io.Writer) {
	fmt.Fprintln(w, "usage: hpcmap COMMAND [ARGS...]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nhpcmap COMMAND -h tells more.")
}
