package mpimap

import "math"

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
// An empty list gives no points; no lists give one point with no values, as
// for an empty product in mathematics. Grid panics if the number of points
// does not fit in an int.
func Grid[T any](lists ...[]T) []Point[T] {
	n := 1
	for _, l := range lists {
		if len(l) != 0 && n > math.MaxInt/len(l) {
			panic("mpimap: Grid has more points than fit in an int")
		}
		n *= len(l)
	}
	if n == 0 {
		return nil
	}
	d := len(lists)
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
