package mpimap

// indexHeap is a min-heap of small integers (slots, ranks) by a key that
// lives with them; each item keeps its place in the heap (pos), so that
// fix and remove find it at once. The simulator keeps two: the running slots
// of a rank by the end of their piece, and the ranks by their next turn.
type indexHeap struct {
	items []int32
	key   func(item int32) int64
	pos   func(item int32) *int32
}

func (h *indexHeap) len() int { return len(h.items) }
func (h *indexHeap) top() int { return int(h.items[0]) }

func (h *indexHeap) push(i int) {
	h.items = append(h.items, int32(i))
	*h.pos(int32(i)) = int32(len(h.items) - 1)
	h.up(len(h.items) - 1)
}

func (h *indexHeap) pop() int {
	i := int(h.items[0])
	h.remove(i)
	return i
}

// remove takes item i out of the heap.
func (h *indexHeap) remove(i int) {
	k, last := int(*h.pos(int32(i))), len(h.items)-1
	h.swap(k, last)
	h.items = h.items[:last]
	if k < last {
		h.down(h.up(k))
	}
}

// fix restores the order after item i's key changed.
func (h *indexHeap) fix(i int) {
	h.down(h.up(int(*h.pos(int32(i)))))
}

func (h *indexHeap) less(a, b int) bool { return h.key(h.items[a]) < h.key(h.items[b]) }

func (h *indexHeap) swap(a, b int) {
	h.items[a], h.items[b] = h.items[b], h.items[a]
	*h.pos(h.items[a]), *h.pos(h.items[b]) = int32(a), int32(b)
}

// up moves the item at k up to its place, and returns that place.
func (h *indexHeap) up(k int) int {
	for k > 0 {
		p := (k - 1) / 2
		if !h.less(k, p) {
			break
		}
		h.swap(p, k)
		k = p
	}
	return k
}

func (h *indexHeap) down(k int) {
	for {
		l, best := 2*k+1, k
		if l < len(h.items) && h.less(l, best) {
			best = l
		}
		if r := l + 1; r < len(h.items) && h.less(r, best) {
			best = r
		}
		if best == k {
			return
		}
		h.swap(k, best)
		k = best
	}
}
