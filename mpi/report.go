package mpi

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hpcmap/hpcmap/internal/ranks"
)

// farewellGrace is how long a rank whose main failed waits for every other
// rank to return from main, so that the job can report each failure once and
// finalise, before it reports its own and aborts the job.
const farewellGrace = 3 * time.Second

var errPeersBusy = fmt.Errorf("mpi: not every rank returned from main within %v of this one's failure", farewellGrace)

// reportFailures is called on every rank once all have returned from main,
// err being this rank's failure or nil, and says whether any rank failed.
// Each distinct error is printed to w once, by the lowest rank that has it,
// naming every rank that has it: "ranks 0-2 on n1, n2: flag provided but not
// defined: -bogus" instead of a line per rank. Ranks are compared by a hash
// of their error's text and their host, so the errors never travel whole.
func reportFailures(c Comm, err error, w io.Writer) (anyFailed bool, _ error) {
	failed, text := byte(0), ""
	if err != nil {
		failed, text = 1, err.Error()
		var re *RankError
		if errors.As(err, &re) {
			text = re.Err.Error()
		}
	}
	sum := sha256.Sum256([]byte(text))
	mine := append(append([]byte{failed}, sum[:]...), c.Host()...)
	const key = 1 + sha256.Size // failed, then the hash; then the host
	all, gerr := AllgatherSlice(c, mine)
	if gerr != nil {
		return false, fmt.Errorf("mpi: reporting the ranks' failures: %w", gerr)
	}
	for _, p := range all {
		anyFailed = anyFailed || len(p) > 0 && p[0] == 1
	}
	if failed == 0 {
		return anyFailed, nil
	}
	var alike []int
	var hosts []string
	for q, p := range all {
		if len(p) < key || !bytes.Equal(p[:key], mine[:key]) {
			continue
		}
		if q < c.Rank() {
			return true, nil // a lower rank reports it
		}
		alike = append(alike, q)
		if h := string(p[key:]); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	_, werr := fmt.Fprintf(w, "%s: %s\n", rankLabel(alike, hosts), text)
	return true, werr
}

// rankLabel names ranks (ascending) and their hosts: "rank 3 on n1",
// "ranks 0-2, 5 on n1, n2", or "ranks 0-99 on 12 hosts".
func rankLabel(rs []int, hosts []string) string {
	if len(hosts) > 4 {
		return fmt.Sprintf("%s on %d hosts", ranks.Noun(rs), len(hosts))
	}
	return ranks.Noun(rs) + " on " + strings.Join(hosts, ", ")
}
