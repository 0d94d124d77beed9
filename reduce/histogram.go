package reduce

import (
	"fmt"
	"slices"

	"github.com/hpcmap/hpcmap/mpi"
)

// Histogram counts values in bins with fixed edges. Bin i holds the values x
// with edges[i] <= x < edges[i+1], as in gonum's stat.Histogram; values below
// the first edge, values at or above the last, and NaNs are counted apart.
// Make one with NewHistogram (gonum's floats.Span gives evenly spaced edges);
// the zero value has no bins: Add panics on it, Merge gives it the edges of
// what it merges, and MergeHistogram refuses it.
type Histogram struct {
	edges []float64
	// One count per bin, then under, over and NaN: the layout that
	// MergeHistogram sums across ranks in one call.
	counts []int64
}

const (
	extraUnder = iota // offsets after the bins in Histogram.counts
	extraOver
	extraNaN
	extras
)

// NewHistogram returns an empty histogram with the given bin edges, which it
// copies. It panics unless there are at least two edges, strictly increasing.
func NewHistogram(edges []float64) *Histogram {
	if len(edges) < 2 {
		panic(fmt.Sprintf("reduce: NewHistogram: %d edges, need at least 2", len(edges)))
	}
	for i := 1; i < len(edges); i++ {
		if !(edges[i-1] < edges[i]) { // also refuses NaN
			panic(fmt.Sprintf("reduce: NewHistogram: edges[%d] = %v is not below edges[%d] = %v", i-1, edges[i-1], i, edges[i]))
		}
	}
	return &Histogram{edges: slices.Clone(edges), counts: make([]int64, len(edges)-1+extras)}
}

// Add counts x.
func (h *Histogram) Add(x float64) {
	if h.edges == nil {
		panic("reduce: Histogram.Add on a Histogram with no bins: use NewHistogram")
	}
	bins := len(h.edges) - 1
	i, found := slices.BinarySearch(h.edges, x) // first edge >= x
	switch {
	case x != x:
		i = bins + extraNaN
	case found:
		if i == bins { // x is the last edge: out of range, as in gonum
			i = bins + extraOver
		}
	case i == 0:
		i = bins + extraUnder
	case i > bins:
		i = bins + extraOver
	default:
		i--
	}
	h.counts[i]++
}

// Merge adds o's counts to h's. A Histogram with no bins (the zero value)
// takes o's edges, so that a zero Histogram can total others, as a zero
// Moments does. It panics if o is nil, or if both have bins and their edges
// differ.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil {
		panic("reduce: Histogram.Merge of a nil *Histogram")
	}
	if h.edges == nil {
		h.edges, h.counts = slices.Clone(o.edges), slices.Clone(o.counts)
		return
	}
	if o.edges != nil && !slices.Equal(h.edges, o.edges) {
		panic("reduce: Histogram.Merge: the histograms have different edges")
	}
	for i, n := range o.counts {
		h.counts[i] += n
	}
}

// Edges returns a copy of the bin edges.
func (h *Histogram) Edges() []float64 { return slices.Clone(h.edges) }

// Counts returns a copy of the bin counts, one per bin.
func (h *Histogram) Counts() []int64 { return slices.Clone(h.counts[:h.bins()]) }

// Under is the number of values below the first edge.
func (h *Histogram) Under() int64 { return h.extra(extraUnder) }

// Over is the number of values at or above the last edge.
func (h *Histogram) Over() int64 { return h.extra(extraOver) }

// NaNs is the number of NaN values.
func (h *Histogram) NaNs() int64 { return h.extra(extraNaN) }

// N is the number of values added, in bins or not.
func (h *Histogram) N() int64 {
	var n int64
	for _, k := range h.counts {
		n += k
	}
	return n
}

func (h *Histogram) bins() int { return max(len(h.edges)-1, 0) }

func (h *Histogram) extra(k int) int64 {
	if h.counts == nil {
		return 0
	}
	return h.counts[h.bins()+k]
}

// MergeHistogram returns, on rank 0, a histogram with the counts of every
// rank's h added up; other ranks get nil. h is not changed. If h is nil or was
// not made with NewHistogram on some rank, every rank returns an error naming
// that rank. The edges must be the same on every rank; if they are not, every
// rank returns an error wrapping ErrMismatch.
func MergeHistogram(c mpi.Comm, h *Histogram) (*Histogram, error) {
	if err := checkComm(c, "MergeHistogram"); err != nil {
		return nil, err
	}
	if err := checkEdges(c, h); err != nil {
		return nil, fmt.Errorf("reduce: MergeHistogram: %w", err)
	}
	var out *Histogram
	var dst []int64
	if c.Rank() == 0 {
		out = &Histogram{edges: slices.Clone(h.edges), counts: make([]int64, len(h.counts))}
		dst = out.counts
	}
	if err := reduceInto(c, dst, h.counts, mpi.Sum, false); err != nil {
		return nil, fmt.Errorf("reduce: MergeHistogram: %w", err)
	}
	return out, nil
}

// checkEdges makes sure that every rank has a Histogram with the same edges:
// first that each has some and their number, in one call, then, in another,
// the maximum of (e, -e), which is (e, -e) itself on every rank only if all
// agree. Every rank reaches the same verdict.
func checkEdges(c mpi.Comm, h *Histogram) error {
	var problem error
	switch {
	case h == nil:
		problem = fmt.Errorf("the Histogram on rank %d is nil", c.Rank())
	case h.edges == nil:
		problem = fmt.Errorf("the Histogram on rank %d has no bins: a zero Histogram, not made with NewHistogram", c.Rank())
	}
	var edges []float64
	if problem == nil {
		edges = h.edges
	}
	n := int64(len(edges))
	r, verdict, err := agreeOn(c, problem, n)
	switch {
	case err != nil:
		return err
	case verdict != nil:
		return verdict
	case !r[0].Same():
		return fmt.Errorf("%w: %d edges on rank %d, from %d to %d across ranks", ErrMismatch, n, c.Rank(), r[0].Min, r[0].Max)
	}
	buf := make([]float64, 2*len(edges))
	for i, e := range edges {
		buf[i], buf[len(edges)+i] = e, -e
	}
	hi := make([]float64, len(buf))
	if err := reduceInto(c, hi, buf, mpi.Max, true); err != nil {
		return err
	}
	for i, e := range edges {
		if lo := -hi[len(edges)+i]; hi[i] != lo {
			return fmt.Errorf("%w: edge %d is %v on rank %d, from %v to %v across ranks", ErrMismatch, i, e, c.Rank(), lo, hi[i])
		}
	}
	return nil
}
