package mpi

import "unsafe"

// reduceParts combines parts[0], parts[1], ... in rank order into dst with op,
// for the implementations that reduce in Go (Local and the single-process world).
func reduceParts(dst []byte, parts [][]byte, t Type, op Op) error {
	for r, p := range parts {
		if len(p) != len(dst) {
			return argError("Reduce", "rank %d sent %d bytes, rank 0 expects %d: buffers differ in length across ranks", r, len(p), len(dst))
		}
	}
	copy(dst, parts[0])
	for _, p := range parts[1:] {
		switch t {
		case Int8:
			combine[int8](dst, p, op)
		case Int16:
			combine[int16](dst, p, op)
		case Int32:
			combine[int32](dst, p, op)
		case Int64:
			combine[int64](dst, p, op)
		case Uint8:
			combine[uint8](dst, p, op)
		case Uint16:
			combine[uint16](dst, p, op)
		case Uint32:
			combine[uint32](dst, p, op)
		case Uint64:
			combine[uint64](dst, p, op)
		case Float32:
			combine[float32](dst, p, op)
		case Float64:
			combine[float64](dst, p, op)
		}
	}
	return nil
}

// combine sets acc[i] = acc[i] op x[i] on buffers of T.
func combine[T Number](accBytes, xBytes []byte, op Op) {
	if len(accBytes) == 0 {
		return
	}
	var zero T
	n := len(accBytes) / int(unsafe.Sizeof(zero))
	acc := unsafe.Slice((*T)(unsafe.Pointer(&accBytes[0])), n)
	x := unsafe.Slice((*T)(unsafe.Pointer(&xBytes[0])), n)
	for i := range acc {
		switch op {
		case Sum:
			acc[i] += x[i]
		case Prod:
			acc[i] *= x[i]
		case Min:
			acc[i] = min(acc[i], x[i])
		case Max:
			acc[i] = max(acc[i], x[i])
		}
	}
}
