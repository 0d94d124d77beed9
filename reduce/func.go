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
// every rank; a panic in op is not recovered (under mpi.Run it ends the job).
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
	if op == nil {
		return zero, fmt.Errorf("reduce: %s: nil op", name)
	}
	vals, err := gatherValues(c, x)
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
// elsewhere). Its errors are the same on every rank, except for the failure
// of a communication call itself.
func gatherValues[T any](c mpi.Comm, x T) ([]T, error) {
	cd, err := codec.New[T]()
	if err != nil {
		return nil, err // decided by the type, so the same on every rank
	}
	// Each rank's message starts with a status byte: the encoded value
	// follows, or the text of the encoding error.
	msg, encErr := cd.Append([]byte{statusValue}, []T{x})
	if encErr != nil {
		msg = fmt.Appendf([]byte{statusError}, "rank %d: cannot encode %v: %v", c.Rank(), reflect.TypeFor[T](), encErr)
	}
	parts, err := c.Gather(0, msg)
	if err != nil {
		return nil, err
	}
	var vals []T
	var problems []string
	if c.Rank() == 0 {
		vals = make([]T, len(parts))
		for r, p := range parts {
			switch {
			case len(p) > 0 && p[0] == statusError:
				problems = append(problems, string(p[1:]))
			case len(p) == 0:
				problems = append(problems, fmt.Sprintf("rank %d sent an empty message", r))
			default:
				if err := cd.Decode(vals[r:r+1], p[1:]); err != nil {
					problems = append(problems, fmt.Sprintf("rank %d: %v", r, err))
				}
			}
		}
	}
	if cd.Fixed() {
		// Fixed-size values always encode, to the same size: only a job
		// that mixes binaries has problems here, and rank 0 reports them
		// without a second collective.
		if len(problems) > 0 {
			return nil, errors.New(strings.Join(problems, "; "))
		}
		return vals, nil
	}
	// Whether a gob value encodes depends on the value (what an interface
	// holds, a nil pointer): rank 0 tells every rank what went wrong, so
	// that either all ranks return an error or none does.
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems], fmt.Sprintf("and %d more ranks", len(problems)-maxProblems))
	}
	verdict, err := c.Bcast(0, []byte(strings.Join(problems, "; ")))
	if err != nil {
		return nil, err
	}
	if len(verdict) > 0 {
		return nil, &encodingError{msg: string(verdict), err: encErr}
	}
	return vals, nil
}

const (
	statusValue byte = iota
	statusError
)

// maxProblems is the most ranks whose failures an error spells out: on a
// thousand ranks with the same bad value, the first few say it all.
const maxProblems = 3

// encodingError is the same text on every rank; on a rank whose own value
// failed to encode it also wraps that rank's error.
type encodingError struct {
	msg string
	err error
}

func (e *encodingError) Error() string { return e.msg }
func (e *encodingError) Unwrap() error { return e.err }
