package ranks

import "testing"

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		ranks      []int
		want, noun string
	}{
		{nil, "", "ranks "},
		{[]int{3}, "3", "rank 3"},
		{[]int{0, 1, 2, 5}, "0-2, 5", "ranks 0-2, 5"},
		{[]int{1, 3, 4}, "1, 3-4", "ranks 1, 3-4"},
		{[]int{0, 1, 2, 3, 6, 8, 9}, "0-3, 6, 8-9", "ranks 0-3, 6, 8-9"},
		{[]int{7, 8}, "7-8", "ranks 7-8"},
	} {
		if got := Format(c.ranks); got != c.want {
			t.Errorf("Format(%v) = %q, want %q", c.ranks, got, c.want)
		}
		if got := Noun(c.ranks); got != c.noun {
			t.Errorf("Noun(%v) = %q, want %q", c.ranks, got, c.noun)
		}
	}
}
