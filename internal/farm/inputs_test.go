package farm

import (
	"regexp"
	"strings"
	"testing"
)

func TestSplitItems(t *testing.T) {
	for _, c := range []struct {
		data, delim string
		want        []string
	}{
		{"", "\n", nil}, {"a", "\n", []string{"a"}}, {"a\n", "\n", []string{"a"}}, {"a\n\nb\n\n", "\n", []string{"a", "", "b", ""}},
		{"a\r\nb", "\n", []string{"a\r", "b"}}, {"a,b,", ",", []string{"a", "b"}}, {"a\tb\n", "\t", []string{"a", "b\n"}},
	} {
		if got := itemsOf(t, []byte(c.data), c.delim); strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("splitLines(%q, %q) = %q, want %q", c.data, c.delim, got, c.want)
		}
	}
	if got := itemsOf(t, valueBytes([]string{"n\nl", "", "x"}, "\n"), "\n"); strings.Join(got, "|") != "n|l||x" {
		t.Errorf("::: values split at newlines: %q", got)
	}
	l, _ := splitLines([]byte("h\r\na\n\nb"), "\n")
	if h := l.dropFirst(); h != "h\r" || l.Len() != 3 || l.Value(0) != "a" || l.Value(1) != "" || l.Value(2) != "b" {
		t.Errorf("after the header %q: %d items %q %q", h, l.Len(), l.Value(0), l.Value(2))
	}
}

// itemsOf is the items that splitLines cuts data into.
func itemsOf(t *testing.T, data []byte, delim string) []string {
	l, err := splitLines(data, delim)
	if err != nil {
		t.Fatal(err)
	}
	var v []string
	for i := range l.Len() {
		v = append(v, l.Value(i))
	}
	return v
}

func TestTableOrder(t *testing.T) {
	g := [][]source{{items{"a", "b"}}, {items{"1", "2", "3"}, intRange{First: 10, Step: -5, N: 2}}}
	tb, err := newTable(g, columns{}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range tb.Len() {
		got = append(got, strings.Join(tb.Args(i), " "))
	}
	if want := "a 1 10,a 2 5,b 1 10,b 2 5"; strings.Join(got, ",") != want {
		t.Errorf("product of a linked pair: %q, want %q", got, want)
	}
	tb, _ = newTable([][]source{{items{"a", "b", "c"}, items{"1", "2"}}}, columns{}, true)
	got = nil
	for i := range tb.Len() {
		got = append(got, strings.Join(tb.Args(i), " "))
	}
	if want := "a 1,b 2,c 1"; strings.Join(got, ",") != want {
		t.Errorf("--link: %q, want %q", got, want)
	}
}

func TestTableEmptySources(t *testing.T) {
	tb, _ := newTable([][]source{{items{}}, {items{}}}, columns{}, false)
	if tb.Len() != 0 {
		t.Errorf("every source empty: %d tasks, want 0", tb.Len())
	}
	tb, _ = newTable([][]source{{items{"a", "b"}}, {items{}}}, columns{}, false)
	if tb.Len() != 2 || strings.Join(tb.Args(1), "|") != "b|" {
		t.Errorf("one empty source: %d tasks, last %q; want 2, [b, \"\"]", tb.Len(), tb.Args(1))
	}
	big := intRange{First: 1, Step: 1, N: 1 << 20}
	if _, err := newTable([][]source{{big}, {big}}, columns{}, false); err == nil {
		t.Error("2^40 tasks: no error")
	}
}

func TestColumns(t *testing.T) {
	c := columns{sep: regexp.MustCompile(","), trimLeft: true, trimRight: true}
	if got := c.split(nil, " a , b c ,,"); strings.Join(got, "|") != "a|b c||" {
		t.Errorf("colsep: %q", got)
	}
	if got := (columns{trimRight: true}).split(nil, " a "); got[0] != " a" {
		t.Errorf("--trim r: %q", got)
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]intRange{
		"1-10": {1, 1, 10}, "1-10:3": {1, 3, 4}, "0-9:3": {0, 3, 4}, "-5-5:5": {-5, 5, 3}, "10-1:-4": {10, -4, 3}, "7-7": {7, 1, 1},
	} {
		if got, err := parseRange(in); err != nil || got != want {
			t.Errorf("--range %s: %+v, %v; want %+v", in, got, err, want)
		}
	}
}
