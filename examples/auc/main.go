// Auc computes the area under y = 0.7x³ − 2x² + 4 on [0, 3] with a Riemann sum
// whose bars are shared among MPI ranks: the classic first parallel program.
//
// Usage:
//
//	mpirun -np 4 auc -n 20000000
//	auc -n 100 -rule mid
//
// Flags:
//
//	-n     number of bars (default 10)
//	-rule  left (the classic left Riemann sum, the default) or mid (midpoints)
//
// Each rank sums one contiguous block of bars; the blocks differ in size by at
// most one bar, so no bar is dropped whatever n and the number of ranks (even
// more ranks than bars). reduce.Sum adds the partial sums on rank 0, which
// prints the area, the exact area by Gauss–Legendre quadrature, and the error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"gonum.org/v1/gonum/integrate/quad"

	"github.com/hpcmap/hpcmap/internal/placement"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

func main() { os.Exit(mpi.Run(run)) }

func run(ctx context.Context, world mpi.Comm) error {
	return auc(world, os.Args[1:], os.Stdout)
}

// curve is the function under which the area is measured, on [a, b].
func curve(x float64) float64 { return 0.7*x*x*x - 2*x*x + 4 }

const a, b = 0.0, 3.0

// auc is the program on one rank of c, with its command-line arguments; rank 0
// writes the result to stdout.
func auc(c mpi.Comm, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("auc", flag.ContinueOnError)
	if c.Rank() != 0 {
		fs.SetOutput(io.Discard) // every rank parses the flags; one complains
	}
	n := fs.Int("n", 10, "number of bars")
	rule := fs.String("rule", "left", "where each bar meets the curve: left or mid")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: auc takes flags only (the number of bars is -n N)", fs.Args())
	}
	if *n < 1 {
		return fmt.Errorf("-n %d: need at least one bar", *n)
	}
	var shift float64 // where in its bar the curve is evaluated, as a fraction of the width
	switch *rule {
	case "left":
		shift = 0
	case "mid":
		shift = 0.5
	default:
		return fmt.Errorf("-rule %q: want left or mid", *rule)
	}

	// Where the ranks run, first: a bad placement shows before the work.
	placement, err := placement.Describe(c)
	if err != nil {
		return err
	}
	mpi.Fprintf(stdout, c, "%s\n", placement)

	start := time.Now()
	area, err := area(c, *n, shift)
	if err != nil || c.Rank() != 0 {
		return err
	}
	elapsed := time.Since(start)

	// An n-point Gauss–Legendre rule is exact for polynomials of degree up
	// to 2n−1: two points integrate the cubic exactly.
	exact := quad.Fixed(curve, a, b, 2, quad.Legendre{}, 0)
	fmt.Fprintf(stdout, "The area is %.10g (%d bars, %s rule, %d ranks, %.3g s)\n",
		area, *n, *rule, c.Size(), elapsed.Seconds())
	fmt.Fprintf(stdout, "Exact area  %.10g (Gauss–Legendre quadrature)\n", exact)
	fmt.Fprintf(stdout, "Error       %.3g\n", area-exact)
	return nil
}

// area returns on rank 0 the Riemann sum of curve over [a, b] with n bars of
// which each rank of c sums its own block; shift places the point where a bar
// meets the curve (0 left, 0.5 middle). Other ranks get 0.
func area(c mpi.Comm, n int, shift float64) (float64, error) {
	lo, hi := block(n, c.Size(), c.Rank())
	width := (b - a) / float64(n)
	sum, err := reduce.Sum(c, barSum(lo, hi, width, shift))
	return sum * width, err
}

// block returns the bars [lo, hi) of rank r of p: the first n%p ranks take one
// bar more than the others, so every bar is summed exactly once.
func block(n, p, r int) (lo, hi int) {
	q, rem := n/p, n%p
	lo = r*q + min(r, rem)
	hi = lo + q
	if r < rem {
		hi++
	}
	return lo, hi
}

// barSum is the sum of the heights of bars lo..hi-1. It is the hot loop:
// nothing in it allocates, and x is computed from i rather than accumulated,
// so rounding does not drift along the block.
func barSum(lo, hi int, width, shift float64) float64 {
	var s float64
	for i := lo; i < hi; i++ {
		s += curve(a + (float64(i)+shift)*width)
	}
	return s
}
