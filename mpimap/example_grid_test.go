package mpimap_test

import (
	"fmt"

	"github.com/hpcmap/hpcmap/mpimap"
)

// A parameter scan over β × h: Grid lists every combination with its index in
// the full grid, the last list varying fastest. The index, not the rank or the
// order of completion, is what keys a point's random stream.
func ExampleGrid() {
	betas := []float64{0.5, 1, 2}
	hs := []float64{0.25, 2.5}
	for _, p := range mpimap.Grid(betas, hs) {
		beta, h := p.Values[0], p.Values[1]
		fmt.Printf("point %d at %v: beta=%v h=%v\n", p.Index, p.Coords, beta, h)
	}
	// Output:
	// point 0 at [0 0]: beta=0.5 h=0.25
	// point 1 at [0 1]: beta=0.5 h=2.5
	// point 2 at [1 0]: beta=1 h=0.25
	// point 3 at [1 1]: beta=1 h=2.5
	// point 4 at [2 0]: beta=2 h=0.25
	// point 5 at [2 1]: beta=2 h=2.5
}
