package farm

import "strings"

// quote makes s one word for a Bourne shell, exactly as GNU Parallel quotes
// the values it substitutes, so that a command line is byte for byte the one
// GNU Parallel would run: words made only of letters, digits and -_.+/ stay
// as they are, the empty word becomes two single quotes, and anything else
// is put in single quotes, each single quote in it written as '"'"', and an
// empty pair of quotes that leaves at either end dropped.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	if plainWord(s) {
		return s
	}
	q := "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
	q = strings.TrimPrefix(q, "''")
	return strings.TrimSuffix(q, "''")
}

// plainWord reports whether the shell reads s as itself: only ASCII letters,
// digits and -_.+/ (GNU Parallel's list, so that both quote alike).
func plainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}
