package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

func TestMain(m *testing.M) { mpitest.Main(m) }

// printedArea runs the program with args on c and returns, on rank 0, the
// area it printed.
func printedArea(c mpi.Comm, args ...string) (float64, error) {
	var out bytes.Buffer
	if err := auc(c, args, &out); err != nil || c.Rank() != 0 {
		return 0, err
	}
	// The placement first, then the area.
	placement, rest, _ := strings.Cut(out.String(), "\n")
	if want := fmt.Sprintf("placement: %d rank", c.Size()); !strings.HasPrefix(placement, want) {
		return 0, fmt.Errorf("first line %q does not start with %q", placement, want)
	}
	for line := range strings.Lines(rest) {
		if f := strings.Fields(line); len(f) >= 4 && strings.Join(f[:3], " ") == "The area is" {
			return strconv.ParseFloat(f[3], 64)
		}
	}
	return 0, fmt.Errorf("no line \"The area is <value>\" in\n%s", out.String())
}

// The figures published with the classic pypar program, which the same sums
// must give here at any number of ranks, including more ranks than bars.
func TestPublishedFigures(t *testing.T) {
	for _, tc := range []struct {
		n    int
		nps  []int
		want float64
		tol  float64 // half a unit in the last published digit
	}{
		{n: 10, nps: []int{1, 2, 3, 4, 12}, want: 8.09175, tol: 0.5e-5},
		{n: 100, nps: []int{2, 7, 150}, want: 8.1620175, tol: 0.5e-7},
		{n: 20_000_000, nps: []int{10}, want: 8.17499993, tol: 0.5e-8},
	} {
		t.Run(fmt.Sprintf("n=%d", tc.n), func(t *testing.T) {
			mpitest.Worlds(t, tc.nps, func(ctx context.Context, c mpi.Comm) error {
				got, err := printedArea(c, "-n", strconv.Itoa(tc.n))
				if err != nil || c.Rank() != 0 {
					return err
				}
				if math.Abs(got-tc.want) > tc.tol {
					return fmt.Errorf("n=%d on %d ranks: area %.10g, want %.10g", tc.n, c.Size(), got, tc.want)
				}
				return nil
			})
		})
	}
}

// For a cubic the composite midpoint rule misses by exactly
// −h²/24·(f′(b) − f′(a)); here f′(3) − f′(0) = 6.9.
func TestMidpointRule(t *testing.T) {
	const n = 100
	h := (b - a) / n
	want := 8.175 - h*h/24*6.9
	mpitest.Worlds(t, []int{1, 3}, func(ctx context.Context, c mpi.Comm) error {
		got, err := printedArea(c, "-n", strconv.Itoa(n), "-rule", "mid")
		if err != nil || c.Rank() != 0 {
			return err
		}
		if math.Abs(got-want) > 1e-9 {
			return fmt.Errorf("midpoint area %.10g, want %.10g", got, want)
		}
		return nil
	})
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-n", "0"}, {"-rule", "right"}, {"-bars", "3"}, {"20000000"}, {"-n", "10", "mid"}} {
		mpitest.Worlds(t, []int{2}, func(ctx context.Context, c mpi.Comm) error {
			if err := auc(c, args, &bytes.Buffer{}); err == nil {
				return fmt.Errorf("auc %v: no error", args)
			}
			return nil
		})
	}
}

// The figure the examples' guide shows for 2e7 bars is what auc prints, to the
// digits shown, at any number of ranks.
func TestGuideFigure(t *testing.T) {
	if mpitest.RealMPI() {
		t.Skip("the guide is read by the plain test run")
	}
	readme, err := os.ReadFile("../../docs/examples.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`auc -n 20000000 .*The area is ([0-9.]+)`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("docs/examples.md shows no area for auc -n 20000000")
	}
	shown := string(m[1])
	want, _ := strconv.ParseFloat(shown, 64)
	_, frac, _ := strings.Cut(shown, ".")
	tol := 0.5 * math.Pow(10, -float64(len(frac)))
	mpitest.Worlds(t, []int{1, 3, 4}, func(ctx context.Context, c mpi.Comm) error {
		got, err := printedArea(c, "-n", "20000000")
		if err != nil || c.Rank() != 0 {
			return err
		}
		if math.Abs(got-want) > tol {
			return fmt.Errorf("%d ranks print %.10g; docs/examples.md shows %s", c.Size(), got, shown)
		}
		return nil
	})
}

func TestBlocksCoverEveryBarOnce(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for p := 1; p <= 13; p++ {
			next := 0
			for r := range p {
				lo, hi := block(n, p, r)
				if lo != next || hi < lo || hi-lo > n/p+1 || hi-lo < n/p {
					t.Errorf("n=%d p=%d: rank %d has [%d,%d) after bar %d", n, p, r, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Errorf("n=%d p=%d: blocks end at %d", n, p, next)
			}
		}
	}
}

// sum keeps barSum's result, so that no call of it is optimised away.
var sum float64

func TestBarSumDoesNotAllocate(t *testing.T) {
	if allocs := testing.AllocsPerRun(10, func() { sum = barSum(0, 1000, 0.003, 0) }); allocs != 0 {
		t.Errorf("barSum allocates %v times per call", allocs)
	}
}

func BenchmarkBarSum(b *testing.B) {
	for _, n := range []int{1e3, 1e6} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				sum = barSum(0, n, 3.0/float64(n), 0)
			}
		})
	}
}
