package farm

import (
	"strconv"
	"strings"
)

// What a replacement string stands for.
type placeholder int

const (
	literal    placeholder = iota
	allArgs                // {} and its forms: every argument, quoted, space-separated
	oneArg                 // {n} and its forms: the n-th argument, quoted
	seqNumber              // {#}: the task's sequence number, from 1
	slotNumber             // {%}: the job slot running the task, from 1
)

// piece is a stretch of a command template: literal text or a replacement
// string.
type piece struct {
	kind      placeholder
	text      string              // literal's text
	pos       int                 // oneArg's position: 1 is the first, -1 the last
	transform func(string) string // path form of an argument: {.} {/} {//} {/.}; nil for none
}

// template is a command with replacement strings, as GNU Parallel reads it:
// its words joined by spaces, then {} {.} {/} {//} {/.} {#} {%} {n} {n.} {n/}
// {n//} {n/.} (n counted from 1, or from the end when negative) and {name}
// forms for --header columns replaced by values. Without any replacement
// string, the arguments are appended, quoted; without a command, the
// arguments themselves are the command.
type template struct {
	pieces []piece
	append bool // no replacement string: append the arguments
	none   bool // no command: the arguments are the command
	// raw: a replacement string in the command's first word ({}, {2},
	// my_{}) makes the values the command, as in GNU Parallel: they go in
	// unquoted, everywhere in the command.
	raw bool
}

// transforms are the path forms of a replacement string, by suffix.
var transforms = map[string]func(string) string{
	"": nil, ".": noExt, "/": base, "//": dir, "/.": baseNoExt,
}

// parseTemplate reads the command words; names maps --header column names
// to their positions (nil without --header).
func parseTemplate(words []string, names map[string]int) template {
	if len(words) == 0 {
		return template{none: true}
	}
	cmd := strings.Join(words, " ")
	var t template
	lit := 0 // start of the literal text not yet added
	for i := 0; i < len(cmd); i++ {
		if cmd[i] != '{' {
			continue
		}
		end := strings.IndexByte(cmd[i+1:], '}')
		if end < 0 {
			break
		}
		p, ok := replacement(cmd[i+1:i+1+end], names)
		if !ok {
			continue
		}
		if lit < i {
			t.pieces = append(t.pieces, piece{kind: literal, text: cmd[lit:i]})
		}
		t.pieces = append(t.pieces, p)
		i += end + 1
		lit = i + 1
	}
	if lit < len(cmd) {
		t.pieces = append(t.pieces, piece{kind: literal, text: cmd[lit:]})
	}
	t.append = true
	for k, p := range t.pieces {
		if p.kind != literal {
			t.append = false
			t.raw = k == 0 || !strings.ContainsAny(t.pieces[0].text, " \t\n=")
			break
		}
	}
	return t
}

// replacement reads what stands between the braces of a replacement string;
// ok is false when it is not one, and the braces are then literal text.
func replacement(body string, names map[string]int) (p piece, ok bool) {
	switch body {
	case "#":
		return piece{kind: seqNumber}, true
	case "%":
		return piece{kind: slotNumber}, true
	}
	if f, ok := transforms[body]; ok {
		return piece{kind: allArgs, transform: f}, true
	}
	if pos, ok := names[body]; ok {
		return piece{kind: oneArg, pos: pos}, true
	}
	for _, suffix := range []string{"/.", "//", "/", "."} {
		head, found := strings.CutSuffix(body, suffix)
		if !found {
			continue
		}
		if pos, ok := names[head]; ok {
			return piece{kind: oneArg, pos: pos, transform: transforms[suffix]}, true
		}
		if pos, ok := position(head); ok {
			return piece{kind: oneArg, pos: pos, transform: transforms[suffix]}, true
		}
	}
	if pos, ok := position(body); ok {
		return piece{kind: oneArg, pos: pos}, true
	}
	return piece{}, false
}

// position reads the n of {n}: an integer, negative to count from the end.
// GNU Parallel reads {0} as every argument; so does this.
func position(s string) (int, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// render is the command line of a task with arguments args, sequence number
// seq and job slot slot.
func (t template) render(args []string, seq, slot int) string {
	var b strings.Builder
	t.write(&b, args, seq, func(b *strings.Builder) { b.WriteString(strconv.Itoa(slot)) })
	return b.String()
}

// renderAround is the command line of a task cut at its {%}s: the slot is
// not known when a joblog is checked, so the parts around it are compared.
func (t template) renderAround(args []string, seq int) []string {
	var parts []string
	var b strings.Builder
	t.write(&b, args, seq, func(b *strings.Builder) {
		parts = append(parts, b.String())
		b.Reset()
	})
	return append(parts, b.String())
}

func (t template) write(b *strings.Builder, args []string, seq int, slot func(*strings.Builder)) {
	switch {
	case t.none:
		b.WriteString(strings.Join(args, " "))
		return
	case t.append:
		for _, p := range t.pieces {
			b.WriteString(p.text)
		}
		for _, a := range args {
			b.WriteByte(' ')
			b.WriteString(quote(a))
		}
		return
	}
	for _, p := range t.pieces {
		switch p.kind {
		case literal:
			b.WriteString(p.text)
		case seqNumber:
			b.WriteString(strconv.Itoa(seq))
		case slotNumber:
			slot(b)
		case allArgs:
			writeArgs(b, args, p.transform, t.raw)
		case oneArg:
			switch {
			case p.pos == 0:
				writeArgs(b, args, p.transform, t.raw)
			case p.pos > 0 && p.pos <= len(args):
				writeArgs(b, args[p.pos-1:p.pos], p.transform, t.raw)
			case p.pos < 0 && -p.pos <= len(args):
				writeArgs(b, args[len(args)+p.pos:len(args)+p.pos+1], p.transform, t.raw)
			}
			// Beyond the arguments: nothing, not even '' (as GNU Parallel).
		}
	}
}

// writeArgs writes the arguments, each transformed and quoted (unless raw),
// with spaces between.
func writeArgs(b *strings.Builder, args []string, transform func(string) string, raw bool) {
	for k, a := range args {
		if k > 0 {
			b.WriteByte(' ')
		}
		if transform != nil {
			a = transform(a)
		}
		if !raw {
			a = quote(a)
		}
		b.WriteString(a)
	}
}

// matchesAround reports whether line is the command whose parts around its
// job slots are parts, each slot a number.
func matchesAround(line string, parts []string) bool {
	rest, ok := strings.CutPrefix(line, parts[0])
	if !ok {
		return false
	}
	if len(parts) == 1 {
		return rest == ""
	}
	// The slot's digits may run into digits of the next part: try each end.
	for n := 1; n <= len(rest) && '0' <= rest[n-1] && rest[n-1] <= '9'; n++ {
		if matchesAround(rest[n:], parts[1:]) {
			return true
		}
	}
	return false
}
