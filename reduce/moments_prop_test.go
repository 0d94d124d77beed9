package reduce_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

// Tolerances of the Moments property tests: a finite mean to meanTol of the
// largest |value| (the scale its rounding errors are relative to, when values
// cancel), a finite variance to varTol relative; each also within a floor
// where the numbers are subnormal (values, or products of values, below
// 2.2e-308), which carry few digits.
const (
	meanTol   = 1e-14
	meanFloor = 1e-320
	varTol    = 1e-13
	varFloor  = 1e-290
)

// edgeValues are the values a careless caller passes: zeros of both signs,
// the extremes of float64, the infinities and NaN.
var edgeValues = []float64{
	0, math.Copysign(0, -1), 1, -1,
	math.MaxFloat64, -math.MaxFloat64, 1e300, -1e300,
	math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 1e-300,
	math.Inf(1), math.Inf(-1), math.NaN(),
}

// randomValues is a sequence of up to 40 values around a random centre and
// spread, some of them edge values; about one sequence in three has none,
// and some are empty.
func randomValues(rng *rand.Rand) []float64 {
	centre := []float64{0, 1, -1e6, 1e8, 1e100}[rng.IntN(5)]
	spread := []float64{1, 1e-3, 1e3, 1e-9}[rng.IntN(4)]
	edgeShare := []float64{0, 0.05, 0.3, 1}[rng.IntN(4)]
	x := make([]float64, rng.IntN(41))
	for i := range x {
		if rng.Float64() < edgeShare {
			x[i] = edgeValues[rng.IntN(len(edgeValues))]
		} else {
			x[i] = centre + spread*rng.NormFloat64()
		}
	}
	return x
}

// randomCuts splits x into k pieces at random points; pieces may be empty.
func randomCuts(rng *rand.Rand, x []float64, k int) [][]float64 {
	cuts := []int{0, len(x)}
	for range k - 1 {
		cuts = append(cuts, rng.IntN(len(x)+1))
	}
	slices.Sort(cuts)
	pieces := make([][]float64, k)
	for i := range pieces {
		pieces[i] = x[cuts[i]:cuts[i+1]]
	}
	return pieces
}

// accumulate adds x to a new Moments by Add, by AddSlice, or half and half,
// as rng decides.
func accumulate(rng *rand.Rand, x []float64) reduce.Moments {
	var m reduce.Moments
	switch rng.IntN(3) {
	case 0:
		for _, v := range x {
			m.Add(v)
		}
	case 1:
		m.AddSlice(x)
	default:
		h := rng.IntN(len(x) + 1)
		m.AddSlice(x[:h])
		for _, v := range x[h:] {
			m.Add(v)
		}
	}
	return m
}

// sameFloat reports whether a and b are equal or both NaN.
func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// sameKind reports whether a and b are both NaN, the same infinity, or both
// finite.
func sameKind(a, b float64) bool {
	return math.IsNaN(a) == math.IsNaN(b) && (!math.IsInf(a, 0) && !math.IsInf(b, 0) || a == b)
}

// compareMoments checks got against want, both summaries of x: N, Min, Max
// and which of Mean and Variance are NaN or infinite exactly, finite Mean and
// Variance within the tolerances.
func compareMoments(got, want reduce.Moments, x []float64) error {
	if got.N() != want.N() || !sameFloat(got.Min(), want.Min()) || !sameFloat(got.Max(), want.Max()) {
		return fmt.Errorf("N, Min, Max = %d, %v, %v, want %d, %v, %v", got.N(), got.Min(), got.Max(), want.N(), want.Min(), want.Max())
	}
	if gm, wm := got.Mean(), want.Mean(); !sameKind(gm, wm) || !closeMean(gm, wm, x) {
		return fmt.Errorf("Mean = %v, want %v", gm, wm)
	}
	if gv, wv := got.Variance(), want.Variance(); !sameKind(gv, wv) || !closeVariance(gv, wv) {
		return fmt.Errorf("Variance = %v, want %v", gv, wv)
	}
	return nil
}

// closeMean reports whether a is within meanTol of b, relative to the largest
// finite |x|, or within meanFloor, or not finite.
func closeMean(a, b float64, x []float64) bool {
	if math.IsNaN(a) || math.IsInf(a, 0) {
		return true
	}
	var scale float64
	for _, v := range x {
		if !math.IsInf(v, 0) {
			scale = max(scale, math.Abs(v))
		}
	}
	return math.Abs(a-b) <= max(meanTol*scale, meanFloor)
}

// closeVariance reports whether a is within varTol of b relative, or within
// varFloor, or not finite.
func closeVariance(a, b float64) bool {
	if math.IsNaN(a) || math.IsInf(a, 0) {
		return true
	}
	return math.Abs(a-b) <= varTol*math.Abs(b) || math.Abs(a-b) <= varFloor
}

// checkSemantics checks what the documentation promises of m, a summary of
// x: NaN where there are no values, or too few for a variance; a NaN among
// the values makes everything NaN; an infinity makes the mean that infinity
// (NaN if both appear) and the variance NaN; finite values give a finite mean
// that agrees with gonum's where gonum's is finite, and a variance that agrees
// with gonum's where gonum's is finite (or +Inf where it overflows).
func checkSemantics(m reduce.Moments, x []float64) error {
	if m.N() != int64(len(x)) {
		return fmt.Errorf("N = %d, want %d", m.N(), len(x))
	}
	if len(x) == 0 {
		for _, v := range []float64{m.Mean(), m.Variance(), m.StdErr(), m.Min(), m.Max()} {
			if !math.IsNaN(v) {
				return fmt.Errorf("no values, but Mean, Variance, StdErr, Min, Max = %v, %v, %v, %v, %v", m.Mean(), m.Variance(), m.StdErr(), m.Min(), m.Max())
			}
		}
		return nil
	}
	nan := slices.ContainsFunc(x, math.IsNaN)
	pos := slices.Contains(x, math.Inf(1))
	neg := slices.Contains(x, math.Inf(-1))
	wantMin, wantMax := slices.Min(x), slices.Max(x)
	if !sameFloat(m.Min(), wantMin) || !sameFloat(m.Max(), wantMax) {
		return fmt.Errorf("Min, Max = %v, %v, want %v, %v", m.Min(), m.Max(), wantMin, wantMax)
	}
	mean, variance := m.Mean(), m.Variance()
	if len(x) == 1 && !math.IsNaN(variance) {
		return fmt.Errorf("one value, but Variance = %v", variance)
	}
	switch {
	case nan, pos && neg:
		if !math.IsNaN(mean) || !math.IsNaN(variance) {
			return fmt.Errorf("NaN %v, +Inf %v, -Inf %v: Mean, Variance = %v, %v, want NaN, NaN", nan, pos, neg, mean, variance)
		}
	case pos || neg:
		if want := math.Inf(1 - 2*b2i(neg)); mean != want || !math.IsNaN(variance) {
			return fmt.Errorf("an infinity: Mean, Variance = %v, %v, want %v, NaN", mean, variance, want)
		}
	default:
		if math.IsNaN(mean) || math.IsInf(mean, 0) {
			return fmt.Errorf("finite values, but Mean = %v", mean)
		}
		if g := stat.Mean(x, nil); isFinite(g) && !closeMean(mean, g, x) {
			return fmt.Errorf("Mean = %v, gonum %v", mean, g)
		}
		if len(x) < 2 {
			return nil
		}
		if math.IsNaN(variance) {
			return fmt.Errorf("finite values, but Variance = NaN")
		}
		if g := stat.Variance(x, nil); isFinite(g) && !closeVariance(variance, g) {
			return fmt.Errorf("Variance = %v, gonum %v", variance, g)
		}
	}
	return nil
}

// isFinite reports whether x is neither infinite nor NaN: where gonum's sums
// overflow, there is nothing to compare with.
func isFinite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestMomentsMergeProperty adds random sequences, edge values included, one
// value at a time, and compares with the same values split at random points,
// each piece added by Add or AddSlice, and the pieces merged in a random order
// and shape: the two must agree (compareMoments), and both must keep the
// documented promises (checkSemantics).
func TestMomentsMergeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	trials := 20000
	if testing.Short() {
		trials = 2000
	}
	for trial := range trials {
		x := randomValues(rng)
		var seq reduce.Moments
		for _, v := range x {
			seq.Add(v)
		}
		pieces := randomCuts(rng, x, 1+rng.IntN(5))
		parts := make([]reduce.Moments, len(pieces))
		for i, p := range pieces {
			parts[i] = accumulate(rng, p)
		}
		// Merge two random parts until one is left: any order, any tree.
		for len(parts) > 1 {
			i, j := rng.IntN(len(parts)), rng.IntN(len(parts)-1)
			if j >= i {
				j++
			}
			parts[i].Merge(parts[j])
			parts = slices.Delete(parts, j, j+1)
		}
		if err := checkSemantics(seq, x); err != nil {
			t.Fatalf("trial %d: Add of %v: %v", trial, x, err)
		}
		if err := compareMoments(parts[0], seq, x); err != nil {
			t.Fatalf("trial %d: %v merged from %d pieces, against Add: %v", trial, x, len(pieces), err)
		}
	}
}

// TestMomentsEdges pins the cases of the issue that the property test found
// in general.
func TestMomentsEdges(t *testing.T) {
	inf, nan, big := math.Inf(1), math.NaN(), math.MaxFloat64
	for _, tc := range []struct {
		name        string
		x           []float64
		mean, vari  float64
		split       int
		viaAddSlice bool
	}{
		{"{1, 2} merged with {+Inf}", []float64{1, 2, inf}, inf, nan, 2, false},
		{"{-Inf} merged with {1, +Inf}", []float64{-inf, 1, inf}, nan, nan, 1, false},
		{"AddSlice of {Max, Max}", []float64{big, big}, big, 0, 0, true},
		{"{Max, -Max, 1}", []float64{big, -big, 1}, 1.0 / 3, inf, 1, true},
		{"{Max} merged with {-Max}", []float64{big, -big}, 0, inf, 1, false},
		{"{NaN} merged with {1}", []float64{nan, 1}, nan, nan, 1, false},
	} {
		var seq, a, b reduce.Moments
		for _, v := range tc.x {
			seq.Add(v)
		}
		if tc.viaAddSlice {
			a.AddSlice(tc.x[:tc.split])
			b.AddSlice(tc.x[tc.split:])
		} else {
			for _, v := range tc.x[:tc.split] {
				a.Add(v)
			}
			for _, v := range tc.x[tc.split:] {
				b.Add(v)
			}
		}
		a.Merge(b)
		for _, m := range []struct {
			how string
			m   reduce.Moments
		}{{"Add", seq}, {"Merge", a}} {
			mean, vari := m.m.Mean(), m.m.Variance()
			if !sameKind(mean, tc.mean) || !closeMean(mean, tc.mean, tc.x) || !sameKind(vari, tc.vari) || !closeVariance(vari, tc.vari) {
				t.Errorf("%s by %s: Mean, Variance = %v, %v, want %v, %v", tc.name, m.how, mean, vari, tc.mean, tc.vari)
			}
		}
	}
}

// TestMergeMomentsProperty is TestMomentsMergeProperty across ranks: every
// rank draws the same sequences, adds its random piece, and rank 0 compares
// MergeMoments of the pieces with Add of the whole.
func TestMergeMomentsProperty(t *testing.T) {
	mpitest.Worlds(t, []int{1, 2, 3}, func(ctx context.Context, c mpi.Comm) error {
		rng := rand.New(rand.NewPCG(3, 4)) // the same draws on every rank
		for trial := range 300 {
			x := randomValues(rng)
			pieces := randomCuts(rng, x, c.Size())
			var seq reduce.Moments
			for _, v := range x {
				seq.Add(v)
			}
			var mine reduce.Moments
			for r, p := range pieces {
				m := accumulate(rng, p) // every rank, to keep the draws in step
				if r == c.Rank() {
					mine = m
				}
			}
			got, err := reduce.MergeMoments(c, mine)
			if err != nil {
				return err
			}
			if c.Rank() != 0 {
				continue
			}
			if err := compareMoments(got, seq, x); err != nil {
				return fmt.Errorf("trial %d: %v on %d ranks: %v", trial, x, c.Size(), err)
			}
		}
		return nil
	})
}
