package reduce

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/hpcmap/hpcmap/internal/codec"
	"github.com/hpcmap/hpcmap/mpi"
)

// Func combines x from every rank with op on rank 0, in rank order:
//
//	op(…op(op(x₀, x₁), x₂)…, xₙ₋₁)
//
// so the result does not depend on timing even when op is neither
// associative nor commutative (floating-point sums, concatenation). Other
// ranks return the zero value. op runs on rank 0 only, but must be non-nil on
// every rank: a nil op on any rank makes every rank return an error naming
// that rank ("rank 1: nil op"), and op is not called. A panic in op is not
// recovered (under mpi.Run it ends the job).
//
// Values of any type cross ranks by the rules of the module's codec, the same
// as for mpimap.Map's results:
//
//   - Fixed-size types — booleans, numbers, and arrays and structs of them,
//     with no pointers, strings, slices, maps or interfaces anywhere inside —
//     are copied as raw memory, unexported fields included, with no
//     reflection per value. Ranks of one job run one binary on one
//     architecture, so the layout is the same.
//   - Other types go through encoding/gob, with its rules: pointers followed
//     and flattened (a field pointing to a zero value arrives as nil), nil
//     and empty slices and maps not told apart, interface
//     values only for concrete types registered with gob.Register. A type
//     that gob would refuse or silently damage (a func or chan inside, an
//     unexported field) is an error on every rank, before anything is sent.
//     A value that fails to encode on some rank (a nil pointer, an interface
//     holding an unregistered type) makes every rank return an error naming
//     that rank and the type, and op is not called.
//
// With one rank the result is x after the same round trip.
func Func[T any](c mpi.Comm, x T, op func(a, b T) T) (T, error) { return fold(c, "Func", x, op) }

// fold is Func, with the name of the public function for its errors.
func fold[T any](c mpi.Comm, name string, x T, op func(a, b T) T) (T, error) {
	var zero T
	if err := checkComm(c, name); err != nil {
		return zero, err
	}
	var problem error
	if op == nil {
		// Refused on every rank together: a rank that returned here would
		// leave rank 0 waiting in Gather.
		problem = fmt.Errorf("rank %d: nil op", c.Rank())
	}
	vals, err := gatherValues(c, x, problem)
	if err != nil {
		return zero, fmt.Errorf("reduce: %s: %w", name, err)
	}
	if c.Rank() != 0 {
		return zero, nil
	}
	acc := vals[0]
	for _, v := range vals[1:] {
		acc = op(acc, v)
	}
	return acc, nil
}

// gatherValues collects x from every rank on rank 0, in rank order (nil
// elsewhere). problem is what this rank found wrong with its other arguments,
// nil if nothing; this rank then sends no value, and agreeOn takes the
// problem's text to every rank. Every rank returns an error exactly when
// some rank has a problem, or a value fails to encode or decode, except when
// a communication call itself fails.
func gatherValues[T any](c mpi.Comm, x T, problem error) ([]T, error) {
	cd, err := codec.New[T]()
	if err != nil {
		return nil, err // decided by the type, so the same on every rank
	}
	// Each rank's message is a status byte, then the encoded value. A rank
	// with a problem sends no value: it reports the problem itself below.
	msg := []byte{statusProblem}
	if problem == nil {
		var encErr error
		msg, encErr = cd.Append([]byte{statusValue}, []T{x})
		if encErr != nil {
			msg = []byte{statusProblem}
			problem = fmt.Errorf("rank %d: cannot encode %v: %w", c.Rank(), reflect.TypeFor[T](), encErr)
		}
	}
	parts, err := c.Gather(0, msg)
	if err != nil {
		return nil, err
	}
	var vals []T
	if c.Rank() == 0 && problem == nil {
		// Rank 0 adds what went wrong with the others' messages to its own
		// problems: a value that does not decode (a GobDecode that fails).
		vals = make([]T, len(parts))
		var bad []string
		for r, p := range parts {
			switch {
			case len(p) == 0:
				bad = append(bad, fmt.Sprintf("rank %d sent an empty message", r))
			case p[0] == statusProblem: // that rank reports it
			default:
				if err := cd.Decode(vals[r:r+1], p[1:]); err != nil {
					bad = append(bad, fmt.Sprintf("rank %d: cannot decode %v: %v", r, reflect.TypeFor[T](), err))
				}
			}
		}
		if len(bad) > 0 {
			problem = errors.New(strings.Join(bad, "; "))
		}
	}
	_, verdict, err := agreeOn(c, problem)
	if err != nil {
		return nil, err
	}
	if verdict != nil {
		return nil, verdict
	}
	return vals, nil
}

const (
	statusValue byte = iota
	statusProblem
)
