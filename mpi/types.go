package mpi

import "github.com/hpcmap/hpcmap/internal/datatype"

// The element types and operations of typed reductions. They are defined in
// internal/datatype, where this package's own helpers below it can name them;
// these are the names programs use.

// Type is the element type of a typed reduction buffer. Its String is the Go
// type's name and its Size the element's size in bytes.
type Type = datatype.Type

// Element types of reduction buffers.
const (
	Int8    = datatype.Int8
	Int16   = datatype.Int16
	Int32   = datatype.Int32
	Int64   = datatype.Int64
	Uint8   = datatype.Uint8
	Uint16  = datatype.Uint16
	Uint32  = datatype.Uint32
	Uint64  = datatype.Uint64
	Float32 = datatype.Float32
	Float64 = datatype.Float64
)

// Op is a predefined reduction operation.
type Op = datatype.Op

// Reduction operations.
const (
	Sum  = datatype.Sum
	Prod = datatype.Prod
	Min  = datatype.Min
	Max  = datatype.Max
)

// Number is the set of element types that MPI reduces natively.
type Number = datatype.Number

// TypeOf is the reduction element type of T: int is Int64 on 64-bit machines.
func TypeOf[T Number]() Type { return datatype.TypeOf[T]() }

// Bytes views the memory of s as bytes, without copying. Messages between ranks
// use the native byte order: ranks of one job run on one architecture.
func Bytes[T Number](s []T) []byte { return datatype.Bytes(s) }
