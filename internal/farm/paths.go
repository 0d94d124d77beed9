package farm

import "strings"

// The path replacement strings transform a value as GNU Parallel's own
// definitions do (Perl regular expressions and File::Basename), edge cases
// included, so that commands come out byte for byte the same.

// noExt is {.}: the value without its extension, the last dot and what
// follows when no slash follows it ("dir/a.tar.gz" → "dir/a.tar").
func noExt(s string) string {
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 || strings.IndexByte(s[dot:], '/') >= 0 {
		return s
	}
	return s[:dot]
}

// base is {/}: the value without its directory. As in GNU Parallel, which
// removes a match of .*/ and whose . does not match a newline, it is cut
// from the start of the first line holding a slash to that line's last
// slash.
func base(s string) string {
	for start := 0; start < len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		if slash := strings.LastIndexByte(s[start:end], '/'); slash >= 0 {
			return s[:start] + s[start+slash+1:]
		}
		start = end + 1
	}
	return s
}

// dir is {//}: the directory of the value, as Perl's File::Basename dirname
// gives it on Unix ("a/b" → "a", "a/" → ".", "/" → "/", "" → ".").
func dir(s string) string {
	d, b := splitPath(s)
	d = trimSlashes(d)
	if b == "" {
		d, _ = splitPath(d)
		d = trimSlashes(d)
	}
	return d
}

// splitPath splits s after its last slash; a path with no slash is in "./".
func splitPath(s string) (dir, base string) {
	slash := strings.LastIndexByte(s, '/')
	if slash < 0 {
		return "./", s
	}
	return s[:slash+1], s[slash+1:]
}

// trimSlashes removes the trailing slashes of s but keeps its first byte.
func trimSlashes(s string) string {
	end := len(s)
	for end > 1 && s[end-1] == '/' {
		end--
	}
	return s[:end]
}

// baseNoExt is {/.}: the value without its directory and its extension.
func baseNoExt(s string) string { return noExt(base(s)) }
