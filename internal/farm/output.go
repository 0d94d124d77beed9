package farm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// printer writes the tasks' output on rank 0, each task's whole: its
// standard output, then its standard error. In completion order, or with
// -k in the order of the tasks, holding back those whose turn has not come:
// what it holds beyond holdInMemory bytes waits in a temporary file, and
// output that another rank kept (see kept.go) waits there until the map
// ends, holding back what follows it.
type printer struct {
	stdout, stderr io.Writer
	keepOrder      bool
	tag            bool
	local          *fetcher // for rank 0's own kept output
	fetch          *fetcher // for any rank's, once the map has ended

	next    int // the turn to print next: a task's position with -k, else its arrival
	arrived int // outputs received, without -k
	held    map[int]*heldOutput
	inMem   int64    // bytes held in memory
	spill   *os.File // the held output beyond holdInMemory, or nil
	tmp     string   // where spill is made
	end     int64    // the length of spill
}

// holdInMemory is how many bytes of held-back output rank 0 keeps in memory.
const holdInMemory = 64 << 20

// heldOutput is the output of a task that waits for its turn.
type heldOutput struct {
	tag            string
	stdout, stderr []byte // in memory; or
	offset         int64  // where both are in the spill file
	nOut, nErr     int64
	spilled        bool
	kept           kept // or where the rank that ran the task keeps them
}

func newPrinter(stdout, stderr io.Writer, keepOrder, tag bool, tmp string, own *keeper) *printer {
	return &printer{stdout: stdout, stderr: stderr, keepOrder: keepOrder, tag: tag, tmp: tmp,
		held: map[int]*heldOutput{}, local: &fetcher{own: own}}
}

// add prints, or holds, the output of the task at position k of the run,
// tagged with tag under --tag.
func (p *printer) add(k int, tag string, out *Outcome) error {
	turn := k
	if !p.keepOrder {
		turn = p.arrived
		p.arrived++
	}
	h := &heldOutput{tag: tag, stdout: out.Stdout, stderr: out.Stderr, kept: out.Kept}
	if turn != p.next || !p.ready(h) {
		return p.hold(turn, h)
	}
	if err := p.print(h); err != nil {
		return err
	}
	p.next++
	return p.release()
}

// ready says whether h can be printed now: it is in hand, or in a keeper
// that rank 0 can read now.
func (p *printer) ready(h *heldOutput) bool {
	return !h.kept.isKept() || h.kept.Rank == 0 || p.fetch != nil
}

// release prints the held outputs whose turn has come.
func (p *printer) release() error {
	for {
		h, ok := p.held[p.next]
		if !ok || !p.ready(h) {
			return nil
		}
		delete(p.held, p.next)
		p.next++
		if h.spilled {
			var err error
			if h.stdout, h.stderr, err = p.unspill(h); err != nil {
				return err
			}
		} else {
			p.inMem -= int64(len(h.stdout) + len(h.stderr))
		}
		if err := p.print(h); err != nil {
			return err
		}
	}
}

func (p *printer) hold(turn int, h *heldOutput) error {
	size := int64(len(h.stdout) + len(h.stderr))
	if p.inMem+size > holdInMemory && size > 0 {
		if err := p.toSpill(h); err != nil {
			return err
		}
	} else {
		p.inMem += size
	}
	p.held[turn] = h
	return nil
}

// toSpill moves held output into the spill file.
func (p *printer) toSpill(h *heldOutput) error {
	if p.spill == nil {
		f, err := tempFile(p.tmp)
		if err != nil {
			return err
		}
		p.spill = f
	}
	h.offset, h.nOut, h.nErr, h.spilled = p.end, int64(len(h.stdout)), int64(len(h.stderr)), true
	for _, b := range [][]byte{h.stdout, h.stderr} {
		if _, err := p.spill.WriteAt(b, p.end); err != nil {
			return fmt.Errorf("holding output back in %s: %w", p.tmp, err)
		}
		p.end += int64(len(b))
	}
	h.stdout, h.stderr = nil, nil
	return nil
}

func (p *printer) unspill(h *heldOutput) (stdout, stderr []byte, err error) {
	b := make([]byte, h.nOut+h.nErr)
	if _, err := p.spill.ReadAt(b, h.offset); err != nil {
		return nil, nil, fmt.Errorf("reading held-back output in %s: %w", p.tmp, err)
	}
	return b[:h.nOut], b[h.nOut:], nil
}

// print prints one task's output, whole.
func (p *printer) print(h *heldOutput) error {
	if !h.kept.isKept() {
		return p.write(h.tag, h.stdout, h.stderr)
	}
	ft := p.fetch
	if ft == nil {
		ft = p.local
	}
	err := p.copyKept(ft, p.stdout, h, 0, h.kept.NOut)
	if err == nil {
		err = p.copyKept(ft, p.stderr, h, h.kept.NOut, h.kept.NErr)
	}
	if err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// copyKept writes n bytes from off of h's kept output to w, tagged under
// --tag.
func (p *printer) copyKept(ft *fetcher, w io.Writer, h *heldOutput, off, n int64) error {
	if !p.tag {
		return ft.copy(w, h.kept, off, n)
	}
	b := bufio.NewWriter(w)
	if err := ft.copy(&tagWriter{w: b, prefix: h.tag + "\t"}, h.kept, off, n); err != nil {
		return err
	}
	return b.Flush()
}

// write prints one task's output in hand.
func (p *printer) write(tag string, stdout, stderr []byte) error {
	if p.tag {
		stdout, stderr = tagLines(tag, stdout), tagLines(tag, stderr)
	}
	if len(stdout) > 0 {
		if _, err := p.stdout.Write(stdout); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	if len(stderr) > 0 {
		if _, err := p.stderr.Write(stderr); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return nil
}

// flush prints what is still held, in order, once the map has ended: ft
// fetches what other ranks kept. Turns that never came (tasks a stop left
// unrun, with -k) are passed over.
func (p *printer) flush(ft *fetcher) error {
	if ft == nil {
		ft = p.local // the map failed: other ranks' kept output is lost
	}
	p.fetch = ft
	var err error
	for len(p.held) > 0 && err == nil {
		if _, ok := p.held[p.next]; !ok {
			p.next++
			continue
		}
		err = p.release()
	}
	if p.spill != nil {
		p.spill.Close()
	}
	return err
}

// tagWriter puts prefix before each line written through it, as tagLines
// does, for output too large to tag in memory.
type tagWriter struct {
	w       io.Writer
	prefix  string
	midLine bool
}

func (t *tagWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if !t.midLine {
			if _, err := io.WriteString(t.w, t.prefix); err != nil {
				return 0, err
			}
		}
		line := b
		if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
			line = b[:nl+1]
		}
		if _, err := t.w.Write(line); err != nil {
			return 0, err
		}
		t.midLine = line[len(line)-1] != '\n'
		b = b[len(line):]
	}
	return n, nil
}

// tagLines puts tag and a tab before each line of b, the last one too
// when it lacks its newline.
func tagLines(tag string, b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	prefix := append([]byte(tag), '\t')
	out := make([]byte, 0, len(b)+(bytes.Count(b, []byte{'\n'})+1)*len(prefix))
	for len(b) > 0 {
		line := b
		if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
			line = b[:nl+1]
		}
		out = append(append(out, prefix...), line...)
		b = b[len(line):]
	}
	return out
}
