// Package ranks writes sets of ranks the way hpcmap's messages name them.
package ranks

import (
	"strconv"
	"strings"
)

// Format writes ascending ranks compactly, runs of consecutive ranks as
// ranges: "0-3, 6, 8-9". A thousand ranks that failed alike make one short
// line, not a thousand numbers.
func Format(rs []int) string {
	var b strings.Builder
	for i := 0; i < len(rs); {
		j := i
		for j+1 < len(rs) && rs[j+1] == rs[j]+1 {
			j++
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(rs[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(rs[j]))
		}
		i = j + 1
	}
	return b.String()
}

// Noun is "rank 3" for one rank and "ranks 0-2, 5" for several.
func Noun(rs []int) string {
	if len(rs) == 1 {
		return "rank " + Format(rs)
	}
	return "ranks " + Format(rs)
}
