package farm

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// options is a command line of hpcmap farm.
type options struct {
	keepOrder    bool
	jobs         string // -j as given; resolved on each rank
	colsep       string
	colsepSet    bool
	header       bool
	trim         string // --trim: n, l, r, lr or rl; "" for the default
	link         bool
	delim        string
	joblog       string
	joblogAppend bool // --joblog +FILE
	resume       bool
	resumeFailed bool
	retries      int // attempts in all, as GNU Parallel counts them; 0 means 1
	timeout      time.Duration
	grace        time.Duration
	halt         haltPolicy
	tag          bool
	results      string
	progress     bool // --bar, --eta, --progress
	dryRun       bool
	tmpdir       string
	gpusPerTask  int
	help         bool
	version      bool

	command []string     // the command's words
	sources []sourceSpec // in order
}

// sourceSpec is an input source as the command line names it.
type sourceSpec struct {
	values []string  // after :::
	path   string    // after :::: or -a ("-": standard input)
	rng    *intRange // --range
	linked bool      // :::+ or ::::+: side by side with the previous source
}

// optionSpec is an option: its names, whether it takes a value, and what it
// sets.
type optionSpec struct {
	names []string
	value string // the value's name in the help; "" for a flag
	help  string
	set   func(o *options, v string) error
}

var optionSpecs = []optionSpec{
	{[]string{"-k", "--keep-order"}, "", "output in argument order, not completion order", func(o *options, _ string) error { o.keepOrder = true; return nil }},
	{[]string{"-j", "-P", "--jobs", "--max-procs"}, "N", "tasks at a time per rank: N, N% or +N/-N of the CPUs the rank may use (default: those CPUs)", func(o *options, v string) error { o.jobs = v; return nil }},
	{[]string{"-a", "--arg-file"}, "FILE", "an input source: the lines of FILE (- for standard input)", func(o *options, v string) error {
		o.sources = append(o.sources, sourceSpec{path: v})
		return nil
	}},
	{[]string{"--range"}, "A-B[:STEP]", "an input source: the integers from A to B (hpcmap's own)", func(o *options, v string) error {
		r, err := parseRange(v)
		o.sources = append(o.sources, sourceSpec{rng: &r})
		return err
	}},
	{[]string{"-C", "--colsep"}, "REGEXP", "split each input line into columns {1} {2} ... at REGEXP", func(o *options, v string) error { o.colsep, o.colsepSet = v, true; return nil }},
	{[]string{"--header"}, ":", "the first value of each source names its columns: {name}", func(o *options, v string) error {
		if v != ":" {
			return fmt.Errorf("--header %s: only --header : is supported (the first line of each input source names its columns)", v)
		}
		o.header = true
		return nil
	}},
	{[]string{"--trim"}, "n|l|r|lr|rl", "trim white space from the start (l) or end (r) of arguments (default with --colsep: lr)", func(o *options, v string) error {
		switch v {
		case "n", "l", "r", "lr", "rl":
			o.trim = v
			return nil
		}
		return fmt.Errorf("--trim %s: want n, l, r, lr or rl", v)
	}},
	{[]string{"--link", "--xapply"}, "", "take the input sources side by side, shorter ones wrapping, instead of every combination", func(o *options, _ string) error { o.link = true; return nil }},
	{[]string{"-0", "--null"}, "", "input items end with a NUL byte, not a newline", func(o *options, _ string) error { o.delim = "\x00"; return nil }},
	{[]string{"-d", "--delimiter"}, "DELIM", "input items end with DELIM (C escapes such as \\t, \\0 allowed)", func(o *options, v string) error {
		d, err := unescape(v)
		if err == nil && d == "" {
			err = fmt.Errorf("-d: the delimiter cannot be empty")
		}
		o.delim = d
		return err
	}},
	{[]string{"--joblog"}, "FILE", "log each task: Seq Host Starttime JobRuntime Send Receive Exitval Signal Command (+FILE appends)", func(o *options, v string) error {
		o.joblog, o.joblogAppend = v, false
		if rest, ok := strings.CutPrefix(v, "+"); ok {
			o.joblog, o.joblogAppend = rest, true
		}
		if o.joblog == "" {
			return fmt.Errorf("--joblog needs a file name")
		}
		return nil
	}},
	{[]string{"--resume"}, "", "skip the tasks the joblog has", func(o *options, _ string) error { o.resume = true; return nil }},
	{[]string{"--resume-failed"}, "", "skip the tasks the joblog has as succeeded; run failed ones again", func(o *options, _ string) error { o.resumeFailed = true; return nil }},
	{[]string{"--retries"}, "N", "run a failing task up to N times in all", func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("--retries %s: want a number of attempts, 0 or more", v)
		}
		o.retries = n
		return nil
	}},
	{[]string{"--timeout"}, "DURATION", "stop a task still running after DURATION (seconds, or with s, m, h, d): its process group gets SIGTERM, then SIGKILL after --grace", func(o *options, v string) error {
		d, err := parseDuration("--timeout", v)
		o.timeout = d
		return err
	}},
	{[]string{"--grace"}, "DURATION", "time between SIGTERM and SIGKILL for tasks stopped by a signal, a timeout or --halt now (default 10s; hpcmap's own)", func(o *options, v string) error {
		d, err := parseDuration("--grace", v)
		o.grace = d
		return err
	}},
	{[]string{"--halt", "--halt-on-error"}, "WHEN,WHY=N", "stop early: now|soon,fail|success|done=N|P% (or 0, 1, 2, -1, -2)", func(o *options, v string) error {
		h, err := parseHalt(v)
		o.halt = h
		return err
	}},
	{[]string{"--tag"}, "", "prefix each output line with the task's arguments and a tab", func(o *options, _ string) error { o.tag = true; return nil }},
	{[]string{"--results", "--res"}, "DIR", "write each task's stdout, stderr, exitval and signal under DIR/<seq/1000>/<seq>/ instead of printing", func(o *options, v string) error {
		if v == "" {
			return fmt.Errorf("--results needs a directory")
		}
		for _, ext := range []string{".csv", ".tsv", ".json"} {
			if strings.HasSuffix(v, ext) {
				return fmt.Errorf("--results %s: a table of results is not supported; give a directory", v)
			}
		}
		o.results = v
		return nil
	}},
	{[]string{"--bar", "--eta", "--progress"}, "", "report progress on standard error", func(o *options, _ string) error { o.progress = true; return nil }},
	{[]string{"--dry-run", "--dryrun"}, "", "print the commands instead of running them", func(o *options, _ string) error { o.dryRun = true; return nil }},
	{[]string{"--tmpdir", "--tempdir"}, "DIR", "where tasks' output waits until it is printed (default $TMPDIR or /tmp)", func(o *options, v string) error { o.tmpdir = v; return nil }},
	{[]string{"--gpus-per-task"}, "N", "give each job slot N of the rank's GPUs through CUDA_VISIBLE_DEVICES (hpcmap's own)", func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("--gpus-per-task %s: want a number of GPUs, 1 or more", v)
		}
		o.gpusPerTask = n
		return nil
	}},
	{[]string{"--group"}, "", "group each task's output (always so)", func(*options, string) error { return nil }},
	{[]string{"--will-cite", "--no-notice"}, "", "accepted, for GNU Parallel's command lines", func(*options, string) error { return nil }},
	{[]string{"-h", "--help"}, "", "this help", func(o *options, _ string) error { o.help = true; return nil }},
	{[]string{"--version"}, "", "the version", func(o *options, _ string) error { o.version = true; return nil }},
}

// unsupported are GNU Parallel options that hpcmap farm does not take, with
// what to do instead.
var unsupported = map[string]string{
	"-u": "output is always grouped per task", "--ungroup": "output is always grouped per task",
	"--line-buffer": "output is always grouped per task", "--lb": "output is always grouped per task",
	"-q": "write the quoting into the command", "--quote": "write the quoting into the command",
	"-X": "each task gets one set of arguments", "-m": "each task gets one set of arguments",
	"-n": "each task gets one set of arguments", "--max-args": "each task gets one set of arguments",
	"-N": "each task gets one set of arguments", "-L": "each task gets one set of arguments",
	"-I": "use {} and its forms", "--pipe": "give the input as an argument file instead", "--pipepart": "give the input as an argument file instead",
	"-S": "MPI places the ranks: start more ranks", "--sshlogin": "MPI places the ranks: start more ranks",
	"--sshloginfile": "MPI places the ranks: start more ranks", "--slf": "MPI places the ranks: start more ranks",
	"--env": "tasks get the rank's environment", "--workdir": "tasks run in the rank's directory", "--wd": "tasks run in the rank's directory",
	"--semaphore": "not a task farm's job", "--sem": "not a task farm's job",
	"--shuf": "tasks run in argument order", "--plus": "use {} {.} {/} {//} {/.} {#} {%} {n}", "--rpl": "use {} {.} {/} {//} {/.} {#} {%} {n}",
	"--tagstring": "--tag prefixes the arguments", "--csv": "use --colsep", "--files": "use --results",
	"--tty": "tasks read nothing from standard input", "--fg": "tasks run under the ranks", "--bg": "tasks run under the ranks",
	"--termseq": "use --grace", "-v": "use --dry-run or --joblog", "-t": "use --dry-run or --joblog", "--verbose": "use --dry-run or --joblog",
}

// parseArgs reads the command line after "hpcmap farm".
func parseArgs(args []string) (*options, error) {
	o := &options{grace: 10 * time.Second, delim: "\n"}
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" || isSeparator(a) {
			break
		}
		used, err := o.option(a, args[i+1:])
		if err != nil {
			return nil, err
		}
		i += used
	}
	for ; i < len(args) && !isSeparator(args[i]); i++ {
		o.command = append(o.command, args[i])
	}
	if err := o.separators(args[i:]); err != nil {
		return nil, err
	}
	return o, o.check()
}

// option reads one option word a, and its value from a or from rest; it
// returns how many words of rest it used.
func (o *options) option(a string, rest []string) (int, error) {
	if strings.HasPrefix(a, "--") {
		name, value, inline := strings.Cut(a, "=")
		spec, err := findOption(name)
		if err != nil {
			return 0, err
		}
		switch {
		case spec.value == "" && inline:
			return 0, fmt.Errorf("%s takes no value", name)
		case spec.value == "" || inline:
			return 0, spec.set(o, value)
		case len(rest) == 0:
			return 0, fmt.Errorf("%s needs a value: %s %s", name, name, spec.value)
		}
		return 1, spec.set(o, rest[0])
	}
	// Short options bundle, as in GNU Parallel: -kj4 is -k -j 4.
	for k := 1; k < len(a); k++ {
		name := "-" + a[k:k+1]
		spec, err := findOption(name)
		if err != nil {
			return 0, err
		}
		if spec.value == "" {
			if err := spec.set(o, ""); err != nil {
				return 0, err
			}
			continue
		}
		if k+1 < len(a) {
			return 0, spec.set(o, a[k+1:])
		}
		if len(rest) == 0 {
			return 0, fmt.Errorf("%s needs a value: %s %s", name, name, spec.value)
		}
		return 1, spec.set(o, rest[0])
	}
	return 0, nil
}

func findOption(name string) (*optionSpec, error) {
	for k := range optionSpecs {
		for _, n := range optionSpecs[k].names {
			if n == name {
				return &optionSpecs[k], nil
			}
		}
	}
	if why, ok := unsupported[name]; ok {
		return nil, fmt.Errorf("%s is GNU Parallel's, but hpcmap farm does not take it: %s", name, why)
	}
	return nil, fmt.Errorf("unknown option %s (hpcmap farm --help lists the options)", name)
}

func isSeparator(a string) bool { return a == ":::" || a == "::::" || a == ":::+" || a == "::::+" }

// separators reads the input sources after the command: ::: values, ::::
// files, and their linked forms.
func (o *options) separators(args []string) error {
	for i := 0; i < len(args); {
		sep := args[i]
		i++
		start := i
		for i < len(args) && !isSeparator(args[i]) {
			i++
		}
		linked := strings.HasSuffix(sep, "+")
		if strings.HasPrefix(sep, "::::") {
			if i == start {
				return fmt.Errorf("%s needs file names", sep)
			}
			for _, path := range args[start:i] {
				o.sources = append(o.sources, sourceSpec{path: path, linked: linked})
			}
			continue
		}
		o.sources = append(o.sources, sourceSpec{values: append([]string{}, args[start:i]...), linked: linked})
	}
	return nil
}

// check refuses combinations that cannot work.
func (o *options) check() error {
	if (o.resume || o.resumeFailed) && o.joblog == "" {
		return fmt.Errorf("--resume and --resume-failed need --joblog FILE: the joblog says what ran")
	}
	if o.colsepSet {
		if _, err := regexp.Compile(o.colsep); err != nil {
			return fmt.Errorf("--colsep %s: %w", o.colsep, err)
		}
	}
	if o.jobs != "" {
		if _, err := parseJobs(o.jobs, 1); err != nil {
			return err
		}
	}
	stdin := 0
	for _, s := range o.sources {
		if s.path == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return fmt.Errorf("standard input can be read once: name it (-a - or :::: -) at most once")
	}
	return nil
}

// columns is how the options split input values into arguments. --colsep
// trims white space unless --trim says otherwise; --header without --colsep
// splits at tabs and trims nothing (as GNU Parallel does).
func (o *options) columns() columns {
	var c columns
	switch {
	case o.colsepSet:
		c = columns{sep: regexp.MustCompile(o.colsep), trimLeft: true, trimRight: true}
	case o.header:
		c = columns{sep: regexp.MustCompile("\t")}
	}
	if o.trim != "" {
		c.trimLeft = strings.Contains(o.trim, "l")
		c.trimRight = strings.Contains(o.trim, "r")
	}
	return c
}

// attempts is how many times a failing task runs.
func (o *options) attempts() int { return max(1, o.retries) }

// parseDuration reads a duration as GNU Parallel does: seconds, or numbers
// with units s, m, h and d ("90", "1.5", "2m", "1h30m").
func parseDuration(opt, v string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("%s %s: want a positive duration", opt, v)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	if strings.HasSuffix(v, "%") {
		return 0, fmt.Errorf("%s %s: a percentage of the median run time is not supported; give a duration", opt, v)
	}
	var total time.Duration
	rest := v
	for rest != "" {
		n := len(rest) - len(strings.TrimLeft(rest, "0123456789."))
		if n == 0 || n == len(rest) {
			return 0, fmt.Errorf("%s %s: want seconds, or numbers with units s, m, h, d (e.g. 90, 1.5, 2m, 1h30m)", opt, v)
		}
		x, err := strconv.ParseFloat(rest[:n], 64)
		unit, ok := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[rest[n]]
		if err != nil || !ok {
			return 0, fmt.Errorf("%s %s: want seconds, or numbers with units s, m, h, d (e.g. 90, 1.5, 2m, 1h30m)", opt, v)
		}
		total += time.Duration(x * float64(unit))
		rest = rest[n+1:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("%s %s: want a positive duration", opt, v)
	}
	return total, nil
}

// unescape reads the C escapes of -d: \n \t \r \a \b \f \v \\, \0 and
// other octal escapes \NNN, and hex \xHH.
func unescape(s string) (string, error) {
	simple := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v', '\\': '\\'}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		c := s[i]
		if r, ok := simple[c]; ok {
			b.WriteByte(r)
			continue
		}
		digits, bits, base := "01234567", 3, 8
		if c == 'x' {
			digits, bits, base = "0123456789abcdefABCDEF", 2, 16
			i++
		}
		end := i
		for end < len(s) && end-i < bits && strings.IndexByte(digits, s[end]) >= 0 {
			end++
		}
		v, err := strconv.ParseUint(s[i:end], base, 8)
		if end == i || err != nil {
			return "", fmt.Errorf("-d %s: not a delimiter with valid C escapes", s)
		}
		b.WriteByte(byte(v))
		i = end - 1
	}
	return b.String(), nil
}
