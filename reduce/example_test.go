package reduce_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"gonum.org/v1/gonum/floats"

	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

// The examples run on mpi.Local's in-process ranks, so that they run without
// an MPI installation; a program does the same under mpi.Run.

func ExampleAllSum() {
	err := mpi.Local(4, func(ctx context.Context, c mpi.Comm) error {
		// Each rank counts its share; every rank learns the total.
		total, err := reduce.AllSum(c, 10*(c.Rank()+1))
		if err != nil {
			return err
		}
		if c.Rank() == 3 {
			fmt.Println("total on rank 3:", total)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: total on rank 3: 100
}

func ExampleSumSlice() {
	err := mpi.Local(3, func(ctx context.Context, c mpi.Comm) error {
		// Rank r contributes r to every element; only rank 0 needs a dst.
		src := []float64{float64(c.Rank()), 1, 0.5}
		var dst []float64
		if c.Rank() == 0 {
			dst = make([]float64, len(src))
		}
		if err := reduce.SumSlice(c, dst, src); err != nil {
			return err
		}
		_, err := mpi.Fprintf(os.Stdout, c, "%v\n", dst)
		return err
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: [3 3 1.5]
}

func ExampleSumSlice_mismatch() {
	err := mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
		// Rank 1 has one element more: every rank gets the error.
		src := make([]int, 2+c.Rank())
		err := reduce.AllSumSlice(c, src, src)
		_, _ = mpi.Fprintf(os.Stdout, c, "%v\n", err)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: reduce: AllSumSlice: arguments do not match: src has 2 elements on rank 0, from 2 to 3 across ranks
}

func ExampleFunc() {
	err := mpi.Local(4, func(ctx context.Context, c mpi.Comm) error {
		// Any type, any function: op runs on rank 0, in rank order.
		word := []string{"to", "be", "or", "not"}[c.Rank()]
		s, err := reduce.Func(c, word, func(a, b string) string { return a + " " + b })
		if err != nil {
			return err
		}
		_, err = mpi.Fprintf(os.Stdout, c, "%s\n", strings.ToUpper(s))
		return err
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: TO BE OR NOT
}

func ExampleMergeMoments() {
	err := mpi.Local(3, func(ctx context.Context, c mpi.Comm) error {
		// Each rank summarises its own values, then rank 0 merges them.
		var m reduce.Moments
		for i := range 4 {
			m.Add(float64(4*c.Rank() + i)) // 0..11 across the ranks
		}
		all, err := reduce.MergeMoments(c, m)
		if err != nil {
			return err
		}
		_, err = mpi.Fprintf(os.Stdout, c, "n=%d mean=%.1f variance=%.1f min=%g max=%g\n",
			all.N(), all.Mean(), all.Variance(), all.Min(), all.Max())
		return err
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: n=12 mean=5.5 variance=13.0 min=0 max=11
}

func ExampleMergeHistogram() {
	err := mpi.Local(2, func(ctx context.Context, c mpi.Comm) error {
		// Four bins of width 0.25 on [0, 1); the same edges on every rank.
		h := reduce.NewHistogram(floats.Span(make([]float64, 5), 0, 1))
		for _, v := range [][]float64{{0.1, 0.3, 0.35, 2}, {0.6, 0.9, -1}}[c.Rank()] {
			h.Add(v)
		}
		all, err := reduce.MergeHistogram(c, h)
		if err != nil {
			return err
		}
		if c.Rank() == 0 {
			fmt.Println(all.Counts(), "under", all.Under(), "over", all.Over())
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: [1 2 1 1] under 1 over 1
}
