package mpi

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hpcmap/hpcmap/internal/agree"
	"github.com/hpcmap/hpcmap/internal/ranks"
)

// reportFailures is called on every rank once all have returned from main,
// err being this rank's failure or nil, and says how many ranks failed. Each
// distinct error is printed to w once, by the lowest rank that has it, naming
// every rank that has it: "ranks 0-2 on n1, n2: flag provided but not
// defined: -bogus" instead of a line per rank.
func reportFailures(c Comm, err error, w io.Writer) (failed int, _ error) {
	var re *RankError
	if errors.As(err, &re) {
		err = re.Err // the rank and host are the label's
	}
	tally, aerr := agree.Alike(c, err, c.Host())
	if aerr != nil {
		return 0, fmt.Errorf("mpi: reporting the ranks' failures: %w", aerr)
	}
	if err == nil || tally.Alike[0] != c.Rank() {
		return tally.Failed, nil // nothing to report, or a lower rank reports it
	}
	var hosts []string
	for _, h := range tally.Notes {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	_, werr := fmt.Fprintf(w, "%s: %s\n", rankLabel(tally.Alike, hosts), err)
	return tally.Failed, werr
}

// rankLabel names ranks (ascending) and their hosts: "rank 3 on n1",
// "ranks 0-2, 5 on n1, n2", or "ranks 0-99 on 12 hosts".
func rankLabel(rs []int, hosts []string) string {
	if len(hosts) > 4 {
		return fmt.Sprintf("%s on %d hosts", ranks.Noun(rs), len(hosts))
	}
	return ranks.Noun(rs) + " on " + strings.Join(hosts, ", ")
}
