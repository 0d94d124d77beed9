package agree

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Tally is what Alike tells a rank about the ranks' failures.
type Tally struct {
	Failed int      // how many ranks failed
	Alike  []int    // the ranks that failed with this rank's text, ascending; nil if this rank did not fail
	Notes  []string // the note of each rank in Alike
}

// Alike compares the ranks' failures, so that a failure that many ranks share
// can be reported once, by the first of them: local is this rank's error, nil
// if it did not fail, and note a string passed along with it (mpi.Run passes
// the host). Errors are compared by a hash of their text, so that they never
// travel whole. The Tally is consistent across ranks: every rank learns the
// same number of failures, and the ranks whose errors read alike get the same
// Alike.
func Alike(c Comm, local error, note string) (Tally, error) {
	failed, msg := byte(0), ""
	if local != nil {
		failed, msg = 1, local.Error()
	}
	sum := sha256.Sum256([]byte(msg))
	mine := append(append([]byte{failed}, sum[:]...), note...)
	const key = 1 + sha256.Size // failed, then the hash; then the note
	all, err := allgather(c, mine)
	if err != nil {
		return Tally{}, fmt.Errorf("agree: comparing the ranks' failures: %w", err)
	}
	var t Tally
	for q, p := range all {
		if len(p) < key {
			return Tally{}, fmt.Errorf("agree: rank %d sent %d bytes, fewer than %d", q, len(p), key)
		}
		if p[0] == 1 {
			t.Failed++
		}
		if failed == 1 && bytes.Equal(p[:key], mine[:key]) {
			t.Alike = append(t.Alike, q)
			t.Notes = append(t.Notes, string(p[key:]))
		}
	}
	return t, nil
}

// allgather collects every rank's data on every rank, in rank order: rank 0
// gathers the parts and broadcasts them, each after its length.
func allgather(c Comm, data []byte) ([][]byte, error) {
	parts, err := c.Gather(0, data)
	if err != nil {
		return nil, err
	}
	var all []byte
	for _, p := range parts {
		all = binary.AppendUvarint(all, uint64(len(p)))
		all = append(all, p...)
	}
	if all, err = c.Bcast(0, all); err != nil {
		return nil, err
	}
	parts = make([][]byte, 0, c.Size())
	for len(all) > 0 {
		n, k := binary.Uvarint(all)
		if k <= 0 || uint64(len(all)-k) < n {
			return nil, errors.New("rank 0's gathered parts are damaged")
		}
		parts, all = append(parts, all[k:k+int(n)]), all[k+int(n):]
	}
	if len(parts) != c.Size() {
		return nil, fmt.Errorf("rank 0 sent %d parts for %d ranks", len(parts), c.Size())
	}
	return parts, nil
}
