package mpimap

import (
	"fmt"
	"math"
	"math/bits"
	"unsafe"
)

// Point is one combination of a Grid: one value from each list.
type Point[T any] struct {
	// Index is the point's position in the full grid, in row-major order. It
	// does not depend on how the grid is later split or scheduled, so it is
	// the key for anything that must be reproducible per point, such as a
	// random stream.
	Index int
	// Coords[j] is the position in lists[j] of Values[j].
	Coords []int
	// Values[j] is the value taken from lists[j].
	Values []T
}

// Grid returns the Cartesian product of lists: every combination that takes
// one value from each list, as the arguments of a parameter scan.
//
// The points are in row-major order, the last list varying fastest, like
// nested loops with lists[0] outermost: for lists of lengths n0, n1, ..., the
// point with coordinates (c0, c1, ...) has Index ((c0·n1 + c1)·n2 + c2)···.
// The order is part of the API and will not change. Point i is the i'th
// element of the result.
//
// An empty list gives no points, however long the other lists are; no lists
// give one point with no values, as for an empty product in mathematics.
// Grid panics, with a message starting "mpimap: Grid", if the number of
// points, or the bytes the points and their values take, does not fit in an
// int; a grid that fits in an int but not in memory fails as any allocation
// does.
func Grid[T any](lists ...[]T) []Point[T] {
	for _, l := range lists {
		if len(l) == 0 { // before any product: big lists may come first
			return nil
		}
	}
	// mul is a·b for a, b ≥ 0, with ok reporting whether it fits in an int.
	mul := func(a, b int) (p int, ok bool) {
		hi, lo := bits.Mul64(uint64(a), uint64(b))
		return int(lo), hi == 0 && lo <= math.MaxInt
	}
	n := 1
	for _, l := range lists {
		var ok bool
		if n, ok = mul(n, len(l)); !ok {
			panic("mpimap: Grid has more points than fit in an int")
		}
	}
	d := len(lists)
	// The allocations below take n·d values and coordinates and n points:
	// their sizes must not wrap around where the count alone did not.
	var elem T
	valueBytes, ok1 := mul(d, int(unsafe.Sizeof(elem))+int(unsafe.Sizeof(0)))
	pointBytes := int(unsafe.Sizeof(Point[T]{})) + valueBytes
	if _, ok2 := mul(n, pointBytes); !ok1 || !ok2 || pointBytes < 0 {
		panic(fmt.Sprintf("mpimap: Grid of %d points of %d values takes more bytes than fit in an int", n, d))
	}
	// One backing array for all coordinates and one for all values, rather
	// than two small allocations per point.
	coords := make([]int, n*d)
	values := make([]T, n*d)
	points := make([]Point[T], n)
	for i := range points {
		c := coords[i*d : (i+1)*d : (i+1)*d]
		v := values[i*d : (i+1)*d : (i+1)*d]
		// Peel the coordinates off the index from the fastest-varying end.
		rest := i
		for j := d - 1; j >= 0; j-- {
			c[j] = rest % len(lists[j])
			rest /= len(lists[j])
			v[j] = lists[j][c[j]]
		}
		points[i] = Point[T]{Index: i, Coords: c, Values: v}
	}
	return points
}

// GridSize is the number of points of Grid(lists...), computed without
// building the grid; it panics as Grid does if they do not fit in an int.
func GridSize[T any](lists ...[]T) int {
	n := 1
	for _, l := range lists {
		if len(l) == 0 {
			return 0
		}
	}
	for _, l := range lists {
		hi, lo := bits.Mul64(uint64(n), uint64(len(l)))
		if hi != 0 || lo > math.MaxInt {
			panic("mpimap: Grid has more points than fit in an int")
		}
		n = int(lo)
	}
	return n
}

// GridPoint is point i of Grid(lists...), computed from its index alone:
// with MapN, a scan of a grid too large to hold runs with no rank holding
// the grid. It panics if i is not in [0, GridSize(lists...)).
func GridPoint[T any](i int, lists ...[]T) Point[T] {
	if i < 0 || i >= GridSize(lists...) {
		panic(fmt.Sprintf("mpimap: GridPoint %d of a grid of %d points", i, GridSize(lists...)))
	}
	d := len(lists)
	p := Point[T]{Index: i, Coords: make([]int, d), Values: make([]T, d)}
	for j, rest := d-1, i; j >= 0; j-- {
		p.Coords[j] = rest % len(lists[j])
		rest /= len(lists[j])
		p.Values[j] = lists[j][p.Coords[j]]
	}
	return p
}
