package farm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hpcmap/hpcmap/internal/mpitest"
	"github.com/hpcmap/hpcmap/mpi"
)

// hostile are arguments that a shell would take for code, globs, several
// words or nothing, were they not quoted.
var hostile = []string{
	"a", "b c", "d'e", `"q"`, "$(touch PWNED)", "`touch PWNED`", "; touch PWNED", "&& touch PWNED", "| cat",
	"> PWNED", "$HOME", "${IFS}x", `x\y`, `\\`, `\n`, "", "'", "''", "é", "~", "*", "#x", "%+,:=@", "{}",
	"-n", " lead", "trail ", "tab\there", "a\x01b",
}

// equivalences are command lines (after "parallel -k" or "hpcmap farm -k",
// with FILE/ replaced by the test's directory) whose output and exit status
// must be GNU Parallel's, byte for byte.
var equivalences = []struct {
	name  string
	stdin string
	args  []string
}{
	{"hostile arguments", "", append([]string{"echo"}, append([]string{":::"}, hostile...)...)},
	{"hostile arguments, printf", "", append([]string{"printf", "[%s]\\n"}, append([]string{":::"}, hostile...)...)},
	{"hostile arguments in {}", "", append([]string{"printf", "<%s>", "x{}y", "{}", ";", "echo"}, append([]string{":::"}, hostile...)...)},
	{"two sources, first slowest", "", []string{"echo", "{2}", "{1}", ":::", "a", "b c", ":::", "1", "2", "3"}},
	{"three sources, appended", "", []string{"echo", ":::", "a", "b", ":::", "1", "2", ":::", "x", "y"}},
	{"{} joins every source", "", []string{"echo", "[{}]", ":::", "a b", "c", ":::", "1", "'"}},
	{"linked sources", "", []string{"echo", "{1}-{2}-{3}", ":::", "a", "b", "c", ":::+", "1", "2", "3", "4", ":::", "x", "y"}},
	{"linked files", "", []string{"echo", ":::", "p", "q", "::::+", "FILE/lines", "FILE/more"}},
	{"--link wraps", "", []string{"--link", "echo", ":::", "a", "b", "c", ":::", "1", "2"}},
	{"every replacement string", "", []string{"echo", "{}+{.}+{/}+{//}+{/.}+{#}", ":::",
		"a.b/c.d", "/x/y.tar.gz", "dir/", "", ".hidden", "sp ace/f i.le", "/", "a//b", "a.", "..", "./x.y"}},
	{"positional forms", "", []string{"echo", "{1}+{1.}+{1/}+{1//}+{1/.}+{2}+{-1}+{3}+{0}", ":::", "a.b/c.d", "x/y", ":::", "q/r.s"}},
	{"braces that are no replacement string", "", []string{"echo", "{{}}", "{x}", "{ }", ":::", "a"}},
	{"--colsep", "", []string{"--colsep", ",", "echo", "{2}|{1}|{3}|{4}", "::::", "FILE/table.csv"}},
	{"--colsep appended, trimmed", "", []string{"--colsep", ", *", "echo", "::::", "FILE/table.csv"}},
	{"--colsep, two sources", "", []string{"--colsep", ",", "echo", "{1}", "{4}", "{5}", "::::", "FILE/table.csv", ":::", "p", "q"}},
	{"--header with --colsep", "", []string{"--header", ":", "--colsep", ",", "echo", "{name}", "{x}", "{x.}", "{2}", "::::", "FILE/named.csv"}},
	{"--header with tabs", "", []string{"--header", ":", "echo", "{h2}:{h1}", "::::", "FILE/named.tsv"}},
	{"--header on ::: sources", "", []string{"--header", ":", "echo", "{a}-{b}", ":::", "a", "1", "2", ":::", "b", "x"}},
	{"-a and ::: together", "", []string{"-a", "FILE/lines", "echo", ":::", "p", "q"}},
	{"standard input", "l1\nl 2\n\n$(touch PWNED)\nlast", []string{"echo", "[{}]"}},
	{":::: - is standard input", "x\ny\n", []string{"echo", ":::", "1", "2", "::::", "-"}},
	{"no command: lines are commands", "echo one; echo two\nprintf '%s\\n' \"a b\"\n", []string{}},
	{"no command, two sources", "", []string{":::", "echo", "printf", ":::", "a b"}},
	{"--tag", "", []string{"--tag", "printf", "x\\ny", ":::", "a", "b c", ":::", "1", "'"}},
	{"--tag with --colsep", "", []string{"--tag", "--colsep", ",", "echo", ":::", "a,b"}},
	{"-0: newlines inside arguments", "", []string{"-0", "printf", "[%s]", "::::", "FILE/nul"}},
	{"-0 on ::: values", "", []string{"-0", "echo", "{}", "{/}", ":::", "a/b\nc/d", "e"}},
	{"a newline splits ::: values", "", []string{"echo", "{#}", "{}", ":::", "n\nl", "x"}},
	{"-d", "", []string{"-d", ",", "echo", ":::", "a,b", "c"}},
	{"-d with an escape", "a\tb\tc\n", []string{"-d", "\\t", "echo", "[{}]"}},
	{"empty source counts as one empty value", "", []string{"echo", ":::", "a", "b", ":::"}},
	{"stdout and stderr", "", []string{"echo out {}; echo err {} >&2", ":::", "a", "b", "c"}},
	{"exit status counts failures", "", []string{"echo {}; exit {}", ":::", "0", "1", "2", "0", "3"}},
	{"killed by a signal", "", []string{"echo {}; kill -{} $$", ":::", "9", "15"}},
	{"output without a last newline", "", []string{"printf", "%s", ":::", "a", "b"}},
	{"$ and backslashes in the command", "", []string{`printf '%s\n' "$1" '\\' {}`, ":::", `a\b`, "$$"}},
	{"-j and bundled options", "", []string{"-kj2", "echo", ":::", "a", "b"}},
	{"a replacement string as the command", "", []string{"{}", ":::", "echo a b", "printf '%s\\n' 'x y'"}},
	{"a replacement string in the first word", "", []string{"{1} {2}", ":::", "echo", "printf", ":::", "a  b"}},
	{"a replacement string after the first word", "", []string{"echo", "{}", ":::", "echo a; touch PWNED"}},
	// Plain command lines, which run without the shell: exit statuses and
	// messages of a program, arguments that would need quotes (the shell
	// runs those), a builtin that differs from the program of its name.
	{"plain command lines", "", []string{"expr", "{}", "+", "1", ":::", "1", "-1", "x", "a b", "0,5"}},
	{"plain command lines, printf", "", []string{"/usr/bin/printf", "%s:%s,", "{}", "{#}", ":::", "a", "b-c", "x=y", "1,2", "@%+", "a b", "~"}},
	{"a builtin of the same name", "", []string{"echo", "-e", "{}", ":::", "a", "b"}},
	{"an assignment is not the command", "", []string{"V={}", "sh", "-c", `'echo "$V"'`, ":::", "a  b", "$(touch PWNED)"}},
}

// TestEquivalentToGNUParallel runs each command line with GNU Parallel and
// with the farm at 1 and 3 ranks: stdout, stderr and the exit status
// must be the same, and no argument may have run as code. Under a real
// launcher (scripts/test-mpi.sh) it runs at the launcher's size, up to 3.
func TestEquivalentToGNUParallel(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"lines": "x\ny z\n", "more": "A\nB\nC\n",
		"table.csv": "a,b c,d\n e , f ,g\nh\n,\n",
		"named.csv": "name,x\nfirst,a.b\nsecond,c\n",
		"named.tsv": "h1\th2\r\n p q \tr\n",
		"nul":       "n\nl\x00x y\x00$(touch PWNED)\x00",
	})
	cases := make([][]string, len(equivalences))
	for k, tc := range equivalences {
		cases[k] = []string{"-k"}
		for _, a := range tc.args {
			cases[k] = append(cases[k], strings.ReplaceAll(a, "FILE/", dir+"/"))
		}
	}
	// GNU Parallel is slow to start: rank 0 runs every case at once, the
	// first time it needs one.
	var once sync.Once
	var refs []ran
	var refErr error
	reference := func(k int) (ran, error) {
		once.Do(func() { refs, refErr = gnuReferences(dir, cases) })
		if refErr != nil {
			return ran{}, refErr
		}
		return refs[k], nil
	}
	wd, _ := os.Getwd()
	t.Cleanup(func() {
		for _, d := range []string{dir, wd} {
			if _, err := os.Stat(filepath.Join(d, "PWNED")); err == nil {
				t.Errorf("an argument ran as code: %s/PWNED exists", d)
			}
		}
	})
	for k, tc := range equivalences {
		t.Run(tc.name, func(t *testing.T) {
			if !mpitest.RealMPI() {
				t.Parallel() // the ranks of a real job must take the cases in step
			}
			// In process at 1 and 3 ranks; scripts/test-mpi.sh runs the
			// table under both launchers at 1, 2 and 3.
			mpitest.Worlds(t, []int{1, 3}, func(ctx context.Context, c mpi.Comm) error {
				if c.Size() > 3 {
					return nil // the table is for 1 to 3 ranks; the other tests take larger jobs
				}
				got, err := farmRun(ctx, c, tc.stdin, cases[k]...)
				if err != nil || c.Rank() != 0 {
					return err
				}
				want, err := reference(k)
				if err != nil {
					return err
				}
				return compare(got, want)
			})
		})
	}
}

// gnuReferences runs GNU Parallel on every case, a few at a time.
func gnuReferences(dir string, cases [][]string) ([]ran, error) {
	refs := make([]ran, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for k := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			refs[k], errs[k] = gnuParallel(dir, equivalences[k].stdin, cases[k]...)
		}()
	}
	wg.Wait()
	return refs, errors.Join(errs...)
}

// compare says how got differs from what GNU Parallel did.
func compare(got, want ran) error {
	if got == want {
		return nil
	}
	return fmt.Errorf("farm differs from GNU Parallel:\nstdout %q\n  want %q\nstderr %q\n  want %q\nstatus %d, want %d",
		got.stdout, want.stdout, got.stderr, want.stderr, got.status, want.status)
}
