package farm

import (
	"fmt"
	"strings"
)

// usage is the text of hpcmap farm --help.
func usage() string {
	var b strings.Builder
	b.WriteString(`usage: hpcmap farm [OPTIONS] [COMMAND [ARG...]] [::: VALUES...] [:::: FILES...] [:::+ ...] [::::+ ...]

Runs COMMAND once per argument, or per combination of arguments, on every
rank of an MPI job, with GNU Parallel's command line: the same input
sources, replacement strings ({} {.} {/} {//} {/.} {#} {%} {n} ...), quoting,
output and exit status. Start it under mpirun or srun, e.g.

  srun hpcmap farm --joblog run.log gzip -9 {} :::: files.txt

Options:
`)
	for _, s := range optionSpecs {
		names := strings.Join(s.names, ", ")
		if s.value != "" {
			names += " " + s.value
		}
		fmt.Fprintf(&b, "  %s\n      %s\n", names, s.help)
	}
	b.WriteString("\nSee docs/farm.md for what differs from GNU Parallel.\n")
	return b.String()
}
