package reduce

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"

	"github.com/hpcmap/hpcmap/mpi"
)

// Moments accumulates the count, mean, sum of squared deviations, minimum and
// maximum of a stream of values in one pass, and merges with other Moments
// exactly as if their values had been added to one. The zero value is empty
// and ready to use. Moments is a fixed-size value: it crosses ranks as raw
// memory.
//
// Add, AddSlice and Merge agree with one another whatever the order of the
// values and however they are split, edge values included: N, Min and Max
// exactly, which of Mean and Variance are NaN or infinite exactly, a finite
// Mean to 1e-14 of the largest |value| and a finite Variance to 1e-13
// relative (or within 1e-320 and 1e-290, where values or their squares are
// subnormal). Mean and Variance agree with gonum's stat.Mean and stat.Variance
// of the values, where gonum's are finite, to the same bounds, also for data
// far from zero (1e8 ± 1e-3). TestMomentsMergeProperty checks all this on
// 20,000 random sequences of up to 40 values, with zeros of both signs,
// ±MaxFloat64, subnormals, infinities and NaNs among them.
//
// At the edges the accessors follow gonum: an empty Moments gives NaN for
// everything, and one value a NaN variance; a NaN among the values makes the
// mean, variance, minimum and maximum NaN; an infinity makes the mean that
// infinity (NaN if both infinities are there) and the variance NaN. Where
// gonum's sum overflows (values near ±MaxFloat64) the mean here is still the
// finite mean, and a variance beyond the range of float64 is +Inf.
type Moments struct {
	n int64
	// The mean is mean + meanLo, a double-double: |meanLo| is below half an
	// ulp of mean. Without the low part, each update of a mean far from zero
	// (1e6 ± 1, say) rounds away digits that the deviations need, and the
	// variance drifts from gonum's by 1e-10 relative; with it, by about 1e-15.
	// Once an infinity or a NaN has been added, mean, meanLo and m2 mean
	// nothing: min and max say what the mean is (see special).
	mean, meanLo float64
	m2           float64 // sum of squared deviations from the mean
	min, max     float64 // meaningful only when n > 0
}

// Add adds the value x.
func (m *Moments) Add(x float64) {
	m.n++
	if m.n == 1 {
		*m = Moments{n: 1, mean: x, min: x, max: x}
		return
	}
	m.min, m.max = min(m.min, x), max(m.max, x)
	// Welford's update, with deviations taken from the double-double mean.
	d := (x - m.mean) - m.meanLo
	if math.IsInf(d, 0) {
		// Finite x and mean more than MaxFloat64 apart: the new mean is a
		// weighted average, which cannot overflow, and the squared
		// deviation alone is beyond float64's range.
		f := float64(m.n)
		m.mean, m.meanLo, m.m2 = m.mean*((f-1)/f)+x/f, 0, math.Inf(1)
		return
	}
	m.addToMean(d / float64(m.n))
	m.m2 += d * ((x - m.mean) - m.meanLo)
}

// addToMean adds delta to the double-double mean.
func (m *Moments) addToMean(delta float64) {
	// Knuth's TwoSum: s + e is exactly m.mean + delta.
	s := m.mean + delta
	b := s - m.mean
	e := (m.mean - (s - b)) + (delta - b)
	e += m.meanLo
	// Renormalise so that the low part is below half an ulp of the high.
	m.mean = s + e
	m.meanLo = e - (m.mean - s)
}

// AddSlice adds the values in x. It is faster and more accurate than adding
// them one by one: it uses the corrected two-pass algorithm of gonum's
// stat.MeanVariance (Chan, Golub and LeVeque 1983, eq. 1.7), keeping the
// correction to the mean that gonum folds into the variance as the low part
// of the mean, and merges the batch.
func (m *Moments) AddSlice(x []float64) {
	switch len(x) {
	case 0:
		return
	case 1:
		m.Add(x[0])
		return
	}
	mean := stat.Mean(x, nil)
	var sum, ss float64 // of the deviations from mean, and of their squares
	for _, v := range x {
		d := v - mean
		sum += d
		ss += d * d
	}
	n := float64(len(x))
	b := Moments{
		n:   int64(len(x)),
		m2:  ss - sum*sum/n,
		min: slices.Min(x), // Min and Max propagate NaN, as Add does
		max: slices.Max(x),
	}
	b.mean = mean
	b.addToMean(sum / n)
	if !finite(b.mean) || !finite(b.m2) {
		// An infinity or a NaN among the values, or sums that overflow:
		// Add's way is the reference for all of these.
		b = Moments{}
		for _, v := range x {
			b.Add(v)
		}
	}
	m.Merge(b)
}

// Merge adds the values summarised by o, with the pairwise update of Chan,
// Golub and LeVeque ("Updating formulae and a pairwise algorithm for
// computing sample variances", 1979). It panics if the count would overflow
// int64 (a Moments merged with itself 63 times).
func (m *Moments) Merge(o Moments) {
	switch {
	case o.n == 0:
		return
	case m.n == 0:
		*m = o
		return
	}
	n := m.n + o.n
	if n < m.n {
		panic("reduce: Moments.Merge: the count overflows int64")
	}
	fa, fb, fn := float64(m.n), float64(o.n), float64(n)
	m.n = n
	m.min, m.max = min(m.min, o.min), max(m.max, o.max)
	d := (o.mean - m.mean) + (o.meanLo - m.meanLo)
	if math.IsInf(d, 0) {
		// Finite means more than MaxFloat64 apart: as in Add.
		m.mean, m.meanLo, m.m2 = m.mean*(fa/fn)+o.mean*(fb/fn), 0, math.Inf(1)
		return
	}
	m.addToMean(d * (fb / fn))
	// d·(d·w), not d²·w: d² can overflow where the product does not.
	m.m2 += o.m2 + d*(d*(fa*fb/fn))
}

// finite reports whether x is neither infinite nor NaN.
func finite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

// special returns the mean when the values include an infinity or a NaN,
// which the running sums cannot follow, and reports whether they do. The
// minimum and maximum are exact in every order of Add and Merge, so the
// answer does not depend on the order either.
func (m Moments) special() (mean float64, ok bool) {
	switch {
	case math.IsNaN(m.min) || math.IsNaN(m.max) || math.IsInf(m.min, -1) && math.IsInf(m.max, 1):
		return math.NaN(), true
	case math.IsInf(m.min, -1):
		return math.Inf(-1), true
	case math.IsInf(m.max, 1):
		return math.Inf(1), true
	}
	return 0, false
}

// N is the number of values added.
func (m Moments) N() int64 { return m.n }

// Mean is the arithmetic mean of the values: NaN if there are none or one is
// NaN, ±Inf if there are infinities of one sign only, NaN if of both.
func (m Moments) Mean() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	if mean, ok := m.special(); ok {
		return mean
	}
	return m.mean
}

// Variance is the unbiased sample variance of the values, the sum of squared
// deviations divided by N-1, as gonum's stat.Variance: NaN for fewer than two
// values or if one is infinite or NaN, +Inf if it is beyond float64's range.
func (m Moments) Variance() float64 {
	if _, ok := m.special(); ok || m.n < 2 {
		return math.NaN()
	}
	return m.m2 / float64(m.n-1)
}

// StdDev is the square root of Variance.
func (m Moments) StdDev() float64 { return math.Sqrt(m.Variance()) }

// StdErr is the standard error of the mean, StdDev/√N; NaN for fewer than two
// values.
func (m Moments) StdErr() float64 { return stat.StdErr(m.StdDev(), float64(m.n)) }

// Min is the least value, NaN if there are none.
func (m Moments) Min() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return m.min
}

// Max is the greatest value, NaN if there are none.
func (m Moments) Max() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return m.max
}

// MergeMoments merges every rank's m on rank 0, in rank order, so the result
// is the same bit for bit from run to run; other ranks get the zero value.
func MergeMoments(c mpi.Comm, m Moments) (Moments, error) {
	return fold(c, "MergeMoments", m, func(a, b Moments) Moments {
		a.Merge(b)
		return a
	})
}
