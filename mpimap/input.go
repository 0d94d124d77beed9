package mpimap

import (
	"context"
	"fmt"
	"sync"
)

// WithInput has rank 0 send each task its input, bytes that input(i) gives
// for task i, with the task as it deals it, so that only rank 0 holds what
// the inputs are made from: the lines of a file of a million tasks, say.
// A task reads its input with TaskInput. Rank 0 calls input from the
// goroutine that called the map, once per task dealt (again for a retry),
// never for a task a journal holds; the bytes it returns must not change
// until the map returns. Every rank passes the option; input may be nil on
// the others, which never call it.
//
// Inputs travel with dealt tasks: WithInput needs the Dynamic or Guided
// schedule, whose chunks rank 0 deals as ranks ask.
func WithInput(input func(i int) []byte) Option {
	return func(c *config) {
		c.inputs = true
		c.input = input
	}
}

// TaskInput is the input of the task whose context ctx is, as rank 0's
// WithInput gave it; nil for a map without WithInput.
func TaskInput(ctx context.Context) []byte {
	b, _ := ctx.Value(inputKey{}).([]byte)
	return b
}

type inputKey struct{}

// checkInputs refuses WithInput where it cannot work.
func checkInputs(cfg config, rank int) error {
	switch {
	case !cfg.inputs:
	case !cfg.schedule.dealt():
		return fmt.Errorf("mpimap: WithInput needs WithSchedule(Dynamic) or WithSchedule(Guided): inputs travel with dealt tasks, and the %v schedule is not dealt", cfg.schedule)
	case rank == 0 && cfg.input == nil:
		return fmt.Errorf("mpimap: WithInput(nil) on rank 0, which gives every task its input")
	}
	return nil
}

// inputs are the task inputs a rank holds: on rank 0 made by the user's
// function as tasks are dealt, elsewhere received with the chunks. A task's
// input is held from its arrival until it runs, or until a leader deals
// the task on to a rank of its node.
type inputs struct {
	source func(i int) []byte // rank 0's: the user's
	skip   *bitset            // tasks a journal holds: never run, no input
	mu     sync.Mutex         // held is shared with the pool's goroutines
	held   map[int][]byte
}

func newInputs(source func(int) []byte, skip *bitset) *inputs {
	return &inputs{source: source, skip: skip, held: map[int][]byte{}}
}

// keep takes in the inputs of a received order of chunks. They are copied
// out of the message, whose memory serves the next one, into one block.
func (in *inputs) keep(o *order) {
	if len(o.inputs) == 0 {
		return
	}
	size := 0
	for _, b := range o.inputs {
		size += len(b)
	}
	block := make([]byte, 0, size)
	in.mu.Lock()
	defer in.mu.Unlock()
	k := 0
	for _, s := range o.spans {
		for j := range s.count {
			if b := o.inputs[k]; len(b) > 0 { // none is nil: held for nothing
				at := len(block)
				block = append(block, b...)
				in.held[s.at(j)] = block[at:len(block):len(block)]
			}
			k++
		}
	}
	o.inputs = nil
}

// hand gives the tasks of an order of chunks their inputs: into the
// order, for another rank, or into this rank's held inputs, for its own
// worker. On rank 0 they are made here; a leader hands on those it holds.
func (in *inputs) hand(o *order, local bool) {
	if o.kind != kindChunks {
		return
	}
	for _, s := range o.spans {
		for j := range s.count {
			if b := in.next(s.at(j), local); !local {
				o.inputs = append(o.inputs, b)
			}
		}
	}
}

// next is task i's input as it is handed over: made on rank 0 (and held
// there for rank 0's own worker), or taken from what a leader holds (left
// held for the leader's own worker).
func (in *inputs) next(i int, local bool) []byte {
	switch {
	case in.skip.has(i): // journaled: it never runs
		return nil
	case in.source != nil:
		b := in.source(i) // the user's code: not under the lock the tasks take
		if local {
			in.mu.Lock()
			in.held[i] = b
			in.mu.Unlock()
		}
		return b
	case local:
		return nil
	}
	return in.take(i)
}

// take removes and returns the input of task i, for the goroutine that
// runs it.
func (in *inputs) take(i int) []byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	b := in.held[i]
	delete(in.held, i)
	return b
}
