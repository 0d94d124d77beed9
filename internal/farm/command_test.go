package farm

import (
	"strings"
	"testing"
)

// The expected values below are what GNU Parallel 20221122 printed for the
// same input (with --dry-run), so that a mistake shows without GNU Parallel
// installed.

func TestQuoteAsGNUParallel(t *testing.T) {
	for in, want := range map[string]string{
		"a": "a", "a-b_c.d+e/f": "a-b_c.d+e/f", "b c": "'b c'", "d'e": `'d'"'"'e'`, "": "''",
		"'": `"'"`, "''": `"'"''"'"`, "$(date)": "'$(date)'", `x\y`: `'x\y'`, "é": "'é'",
		"~": "'~'", "*": "'*'", "%+,:=@": "'%+,:=@'", "n\nl": "'n\nl'", "a'": `'a'"'"`, "'a": `"'"'a'`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPathFormsAsGNUParallel(t *testing.T) {
	for _, c := range []struct{ in, noExt, base, dir, baseNoExt string }{
		{"a.b/c", "a.b/c", "c", "a.b", "c"},
		{"/", "/", "", "/", ""},
		{"dir/", "dir/", "", ".", ""},
		{".hidden", "", ".hidden", ".", ""},
		{"a.tar.gz", "a.tar", "a.tar.gz", ".", "a.tar"},
		{"", "", "", ".", ""},
		{".", "", ".", ".", ""},
		{"..", ".", "..", ".", "."},
		{"a.", "a", "a.", ".", "a"},
		{"/a/b.c", "/a/b", "b.c", "/a", "b"},
		{"a/.b", "a/", ".b", "a", ""},
		{"a//b", "a//b", "b", "a", "b"},
		{"./x.y", "./x", "x.y", ".", "x"},
		{"a/b\nc/d", "a/b\nc/d", "b\nc/d", "a/b\nc", "b\nc/d"},
	} {
		if got := noExt(c.in); got != c.noExt {
			t.Errorf("{.} of %q = %q, want %q", c.in, got, c.noExt)
		}
		if got := base(c.in); got != c.base {
			t.Errorf("{/} of %q = %q, want %q", c.in, got, c.base)
		}
		if got := dir(c.in); got != c.dir {
			t.Errorf("{//} of %q = %q, want %q", c.in, got, c.dir)
		}
		if got := baseNoExt(c.in); got != c.baseNoExt {
			t.Errorf("{/.} of %q = %q, want %q", c.in, got, c.baseNoExt)
		}
	}
}

func TestRender(t *testing.T) {
	names := map[string]int{"x": 1, "y": 2}
	for _, c := range []struct {
		words []string
		args  []string
		want  string
	}{
		{[]string{"echo"}, []string{"a", "b c"}, "echo a 'b c'"},
		{[]string{"echo", "{}"}, []string{"a", "b c"}, "echo a 'b c'"},
		{[]string{"echo", "x{}y"}, []string{"a b"}, "echo x'a b'y"},
		{[]string{"echo", "{2}", "{1.}", "{3}"}, []string{"a.x", "1"}, "echo 1 a "},
		{[]string{"echo", "{-1}", "{0}"}, []string{"a/b.c", "d/e.f"}, "echo d/e.f a/b.c d/e.f"},
		{[]string{"echo", "{#}", "{%}"}, []string{"a"}, "echo 7 3"},
		{[]string{"echo", "{{}}", "{x}", "{ }", "{1"}, []string{"a"}, "echo {a} a { } {1"},
		{[]string{"echo", "{y/}"}, []string{"a", "d/e f"}, "echo 'e f'"},
		{[]string{"{}"}, []string{"echo a b"}, "echo a b"},
		{[]string{"my_{}", "x"}, []string{"a b"}, "my_a b x"},
		{[]string{" echo", "{}"}, []string{"a b"}, " echo 'a b'"},
		{[]string{"V={}", "cmd"}, []string{"a b"}, "V='a b' cmd"},
		{nil, []string{"echo a;", "b"}, "echo a; b"},
	} {
		if got := parseTemplate(c.words, names).render(c.args, 7, 3); got != c.want {
			t.Errorf("%q with %q = %q, want %q", c.words, c.args, got, c.want)
		}
	}
}

func TestMatchesAroundSlots(t *testing.T) {
	tm := parseTemplate([]string{"run", "{%}5", "{}", "{%}"}, nil)
	parts := tm.renderAround([]string{"a b"}, 1)
	if strings.Join(parts, "|") != "run |5 'a b' |" {
		t.Fatalf("parts %q", parts)
	}
	for line, want := range map[string]bool{
		"run 15 'a b' 1": true, "run 125 'a b' 12": true, "run 5 'a b' 1": false,
		"run 15 'a b' ": false, "run 15 'a c' 1": false, "run 15 'a b' 1x": false,
	} {
		if got := matchesAround(line, parts); got != want {
			t.Errorf("%q matches %q: %v, want %v", line, parts, got, want)
		}
	}
}
