package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/stat"
)

// The model: a particle at x in the potential V(x) = m·x²/2 + x⁴/4, at inverse
// temperature β, so that x has the probability density ∝ exp(−β·V(x)).

func potential(m, x float64) float64 {
	x2 := x * x
	return x2 * (m/2 + x2/4)
}

// estimate is what the sampler measures at one point.
type estimate struct {
	X2, X2Err  float64 // ⟨x²⟩ and its batch-means standard error
	Acceptance float64 // fraction of proposals accepted
}

// batches is the number of batch means from which the standard error of ⟨x²⟩
// is estimated: enough for a usable spread, few enough that each batch is
// long compared with the chain's autocorrelation when the sampler mixes well.
const batches = 32

// chain is a Metropolis chain for x: it proposes x + u with u uniform in
// [−h, h] and accepts with probability min(1, exp(−β·ΔV)).
type chain struct {
	rng        *rand.Rand
	beta, m, h float64
	x, v       float64 // the position and V there
}

// step makes one proposal and reports whether it was accepted.
func (c *chain) step() bool {
	y := c.x + c.h*(2*c.rng.Float64()-1)
	w := potential(c.m, y)
	// Draw the second number only when it decides: downhill moves are
	// always accepted.
	if w <= c.v || c.rng.Float64() < math.Exp(-c.beta*(w-c.v)) {
		c.x, c.v = y, w
		return true
	}
	return false
}

// metropolis runs a chain from x = 0 for burnIn steps unmeasured, then
// measures x² over iterations steps (at least batches) cut into equal batches.
func metropolis(rng *rand.Rand, beta, m, h float64, burnIn, iterations int) estimate {
	c := chain{rng: rng, beta: beta, m: m, h: h, x: 0, v: potential(m, 0)}
	for range burnIn {
		c.step()
	}

	var means [batches]float64
	accepted, sum := 0, 0.0
	for b := range batches {
		// Batch lengths differ by at most one step, and no step is left out.
		n := (b+1)*iterations/batches - b*iterations/batches
		s := 0.0
		for range n {
			if c.step() {
				accepted++
			}
			s += c.x * c.x
		}
		means[b] = s / float64(n)
		sum += s
	}
	_, sd := stat.MeanStdDev(means[:], nil)
	return estimate{
		X2:         sum / float64(iterations),
		X2Err:      sd / math.Sqrt(batches),
		Acceptance: float64(accepted) / float64(iterations),
	}
}

// newRand returns the random stream of grid point index: a ChaCha8 generator
// keyed by the seed and the index, so that a point draws the same numbers
// whichever rank, worker or shard runs it, and different points' streams are
// independent (ChaCha8's outputs for distinct keys are unrelated, which a
// linear generator seeded with consecutive integers does not promise).
func newRand(seed uint64, index int) *rand.Rand {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(index))
	return rand.New(rand.NewChaCha8(key))
}

// exactX2 is ⟨x²⟩ = ∫x²·w / ∫w with w = exp(−β·V), by Gauss–Legendre
// quadrature over x ≥ 0 (w is even) on the interval outside which w is below
// e⁻⁴⁰ of its peak. In t = x² that interval is where β·(V − Vmin) ≤ 40: with
// V − Vmin = (t + m)²/4 for m < 0 (wells at t = −m) and t·(t/4 + m/2) for
// m ≥ 0 (one well at 0), it is |t + m| ≤ s with s = √(160/β), cut at t = 0.
// However narrow the wells, the interval holds them, so the quadrature
// resolves them; checkX2 says where float64 can no longer tell the interval
// apart.
func exactX2(beta, m float64) float64 {
	lo, hi := x2Interval(beta, m)
	w := func(x float64) float64 {
		t := x * x
		if m < 0 {
			return math.Exp(-beta * (t + m) * (t + m) / 4)
		}
		return math.Exp(-beta * t * (t/4 + m/2))
	}
	const n = 400 // ample for a smooth integrand that fits the interval: see the tests
	a, b := math.Sqrt(lo), math.Sqrt(hi)
	num := quad.Fixed(func(x float64) float64 { return x * x * w(x) }, a, b, n, quad.Legendre{}, 0)
	den := quad.Fixed(w, a, b, n, quad.Legendre{}, 0)
	return num / den
}

// x2Interval is the interval of t = x² that exactX2 integrates over.
func x2Interval(beta, m float64) (lo, hi float64) {
	s := math.Sqrt(160 / beta)
	if m < 0 {
		return max(-m-s, 0), -m + s
	}
	// −m + √(m² + s²), written so as not to cancel when s ≪ m.
	return 0, s * s / (m + math.Hypot(m, s))
}

// checkX2 reports whether exactX2(beta, m) can be computed: β·(V − Vmin)
// must be computable on its interval, and a double well's interval
// (t ≈ −m ± s) must be wide enough that the wells' shape shows in float64.
// Outside, it says so rather than give a NaN or a number without meaning.
func checkX2(beta, m float64) error {
	lo, hi := x2Interval(beta, m)
	switch {
	case beta < 1e-200 || beta > 1e200 || math.Abs(m) > 1e100:
		return fmt.Errorf("β = %v with m = %v: want 1e-200 ≤ β ≤ 1e200 and |m| ≤ 1e100, where ⟨x²⟩ can be computed exactly", beta, m)
	case m < 0 && hi-lo < 1e-8*(-m):
		return fmt.Errorf("β = %v with m = %v: the wells are too narrow (β·m² above 6.4e18) for ⟨x²⟩ to be computed exactly", beta, m)
	case !(hi > 0) || math.IsInf(hi, 0):
		return fmt.Errorf("β = %v with m = %v: ⟨x²⟩ cannot be computed exactly there", beta, m)
	}
	return nil
}
