package reduce_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
	"github.com/hpcmap/hpcmap/reduce"
)

// benchLocal runs body b.N times on every rank of an np-rank Local world.
// The figures are those of the package's own work plus Local's channels;
// bench/ measures AllSum on the system MPI against C.
func benchLocal(b *testing.B, np int, body func(c mpi.Comm) error) {
	if mpitest.RealMPI() {
		b.Skip("benchmarks run on Local ranks; bench/ measures the system MPI")
	}
	b.ReportAllocs()
	err := mpi.Local(np, func(ctx context.Context, c mpi.Comm) error {
		if err := c.Barrier(); err != nil {
			return err
		}
		if c.Rank() == 0 {
			b.ResetTimer() // only rank 0 touches b
		}
		for range b.N {
			if err := body(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkAllSum(b *testing.B) {
	for _, np := range []int{1, 2, 4} {
		b.Run("np="+strconv.Itoa(np), func(b *testing.B) {
			benchLocal(b, np, func(c mpi.Comm) error {
				_, err := reduce.AllSum(c, 1.5)
				return err
			})
		})
	}
}

func BenchmarkAllSumSlice(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("np=2/n=%d", n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			benchLocal(b, 2, func(c mpi.Comm) error {
				src := make([]float64, n)
				return reduce.AllSumSlice(c, src, src)
			})
		})
	}
}

// BenchmarkFunc includes a barrier per call: in a fixed-size Func the other
// ranks only send, and without it they would run thousands of calls ahead of
// rank 0, which then searches an ever longer queue of Local messages.
func BenchmarkFunc(b *testing.B) {
	b.Run("np=2/fixed", func(b *testing.B) {
		benchLocal(b, 2, func(c mpi.Comm) error {
			_, err := reduce.Func(c, [4]float64{1, 2, 3, 4}, func(a, b [4]float64) [4]float64 { return a })
			if err != nil {
				return err
			}
			return c.Barrier()
		})
	})
	b.Run("np=2/gob", func(b *testing.B) {
		benchLocal(b, 2, func(c mpi.Comm) error {
			_, err := reduce.Func(c, []float64{1, 2, 3, 4}, func(a, b []float64) []float64 { return a })
			if err != nil {
				return err
			}
			return c.Barrier()
		})
	})
}

func BenchmarkMoments(b *testing.B) {
	x := make([]float64, 1000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	b.Run("Add/n=1000", func(b *testing.B) {
		b.SetBytes(int64(8 * len(x)))
		for b.Loop() {
			var m reduce.Moments
			for _, v := range x {
				m.Add(v)
			}
		}
	})
	b.Run("AddSlice/n=1000", func(b *testing.B) {
		b.SetBytes(int64(8 * len(x)))
		for b.Loop() {
			var m reduce.Moments
			m.AddSlice(x)
		}
	})
}
