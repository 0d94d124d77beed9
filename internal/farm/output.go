package farm

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// printer writes the tasks' output on rank 0, each task's whole: its
// standard output, then its standard error. In completion order, or with
// -k in the order of the tasks, holding back those that finish early; what
// it holds beyond holdInMemory bytes waits in a temporary file.
type printer struct {
	stdout, stderr io.Writer
	keepOrder      bool
	tag            bool

	next  int // with -k: the position of the task to print next
	held  map[int]*heldOutput
	inMem int64    // bytes held in memory
	spill *os.File // the held output beyond holdInMemory, or nil
	tmp   string   // where spill is made
	end   int64    // the length of spill
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
}

func newPrinter(stdout, stderr io.Writer, keepOrder, tag bool, tmp string) *printer {
	return &printer{stdout: stdout, stderr: stderr, keepOrder: keepOrder, tag: tag, tmp: tmp, held: map[int]*heldOutput{}}
}

// add prints, or holds, the output of the task at position k of the run,
// tagged with tag under --tag.
func (p *printer) add(k int, tag string, stdout, stderr []byte) error {
	if !p.keepOrder {
		return p.write(tag, stdout, stderr)
	}
	if k != p.next {
		return p.hold(k, tag, stdout, stderr)
	}
	if err := p.write(tag, stdout, stderr); err != nil {
		return err
	}
	p.next++
	return p.release()
}

// release prints the held outputs whose turn has come.
func (p *printer) release() error {
	for {
		h, ok := p.held[p.next]
		if !ok {
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
		if err := p.write(h.tag, h.stdout, h.stderr); err != nil {
			return err
		}
	}
}

func (p *printer) hold(k int, tag string, stdout, stderr []byte) error {
	h := &heldOutput{tag: tag, stdout: stdout, stderr: stderr}
	size := int64(len(stdout) + len(stderr))
	if p.inMem+size > holdInMemory && size > 0 {
		if err := p.toSpill(h); err != nil {
			return err
		}
	} else {
		p.inMem += size
	}
	p.held[k] = h
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

// write prints one task's output, whole.
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

// flush prints what is still held, in order, at the end of a run that
// stopped before every task ran.
func (p *printer) flush() error {
	for len(p.held) > 0 {
		if _, ok := p.held[p.next]; !ok {
			p.next++
			continue
		}
		if err := p.release(); err != nil {
			return err
		}
	}
	if p.spill != nil {
		p.spill.Close()
	}
	return nil
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
