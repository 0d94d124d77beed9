package mpimap

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestGridOrderAndIndex(t *testing.T) {
	a := []string{"a0", "a1"}
	b := []string{"b0", "b1", "b2"}
	c := []string{"c0", "c1", "c2", "c3"}
	got := Grid(a, b, c)
	if len(got) != len(a)*len(b)*len(c) {
		t.Fatalf("Grid gave %d points, want %d", len(got), len(a)*len(b)*len(c))
	}
	// The same order as nested loops, outermost list first.
	i := 0
	for ia := range a {
		for ib := range b {
			for ic := range c {
				p := got[i]
				if p.Index != i {
					t.Errorf("point %d has Index %d", i, p.Index)
				}
				if want := []int{ia, ib, ic}; !slices.Equal(p.Coords, want) {
					t.Errorf("point %d has Coords %v, want %v", i, p.Coords, want)
				}
				if want := []string{a[ia], b[ib], c[ic]}; !slices.Equal(p.Values, want) {
					t.Errorf("point %d has Values %v, want %v", i, p.Values, want)
				}
				i++
			}
		}
	}
}

func TestGridPointsDoNotAlias(t *testing.T) {
	g := Grid([]int{1, 2}, []int{3, 4})
	// Appending to one point's slices must not overwrite the next point.
	_ = append(g[0].Values, 99)
	_ = append(g[0].Coords, 99)
	if g[1].Values[0] != 1 || g[1].Coords[0] != 0 {
		t.Errorf("appending to point 0 changed point 1: %+v", g[1])
	}
}

func TestGridEdgeCases(t *testing.T) {
	if g := Grid([]int{1, 2}, nil, []int{3}); len(g) != 0 {
		t.Errorf("Grid with an empty list = %v, want no points", g)
	}
	g := Grid[int]()
	if len(g) != 1 || g[0].Index != 0 || len(g[0].Values) != 0 || len(g[0].Coords) != 0 {
		t.Errorf("Grid of no lists = %+v, want one empty point", g)
	}
	g = Grid([]int{7, 8, 9})
	for i, p := range g {
		if p.Index != i || p.Values[0] != 7+i || p.Coords[0] != i {
			t.Errorf("one-list Grid point %d = %+v", i, p)
		}
	}
}

func TestGridTooLargePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Grid with more than MaxInt points did not panic")
		}
	}()
	// Lists whose lengths multiply past MaxInt, without allocating them:
	// a slice of zero-size elements takes no memory.
	big := make([]struct{}, math.MaxInt/2)
	Grid(big, big[:3])
}

// TestGridEmptyProductOfBigLists: an empty list makes the product empty
// whatever the other lists, in any position. Grid used to panic "more points
// than fit in an int" when lists before the empty one multiplied past MaxInt.
func TestGridEmptyProductOfBigLists(t *testing.T) {
	big := make([]struct{}, math.MaxInt/2) // zero-size elements: no memory
	for _, lists := range [][][]struct{}{
		{big, big, {}},
		{big, big, nil},
		{{}, big, big},
		{big, nil, big},
	} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Grid of %d lists, one empty: panic %v", len(lists), p)
				}
			}()
			if g := Grid(lists...); len(g) != 0 {
				t.Errorf("Grid of %d lists, one empty: %d points, want none", len(lists), len(g))
			}
		}()
	}
}

// TestGridTooManyValuesPanics: a product that fits in an int, but whose
// points and values take more bytes than an int counts, panics with Grid's
// message, where it used to panic in make with "len out of range".
func TestGridTooManyValuesPanics(t *testing.T) {
	one := []struct{}{{}}
	big := make([]struct{}, math.MaxInt/2)
	defer func() {
		p := recover()
		if s, ok := p.(string); !ok || !strings.HasPrefix(s, "mpimap: Grid") {
			t.Errorf("Grid of MaxInt/2 points of 4 values: panic %v, want Grid's own", p)
		}
	}()
	Grid(big, one, one, one)
}

// GridPoint and GridSize agree with Grid, point by point.
func TestGridPointMatchesGrid(t *testing.T) {
	lists := [][]float64{{0.1, 0.5, 1}, {1, 2}, {}, {7}}
	for _, ls := range [][][]float64{lists[:2], {lists[0], lists[1], lists[3]}, {lists[3]}, nil, lists} {
		grid := Grid(ls...)
		if GridSize(ls...) != len(grid) {
			t.Fatalf("GridSize %d, Grid has %d points", GridSize(ls...), len(grid))
		}
		for i, want := range grid {
			got := GridPoint(i, ls...)
			if got.Index != want.Index || !slices.Equal(got.Coords, want.Coords) || !slices.Equal(got.Values, want.Values) {
				t.Fatalf("GridPoint(%d) = %+v, Grid has %+v", i, got, want)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("GridPoint past the end did not panic")
		}
	}()
	GridPoint(6, lists[:2]...)
}
