// Package reduce combines values across the ranks of an mpi.Comm: sums,
// minima and maxima of numbers and of slices of numbers, reductions with any
// Go function over values of any type, and running statistics (Moments) and
// histograms that merge across ranks.
//
// Every function here is collective: every rank of the communicator calls it,
// in the same order as the other collectives, as in MPI. Functions without
// the All prefix leave the result on rank 0 and return the zero value
// elsewhere; the All functions return it on every rank.
//
// # Two tiers
//
// Numbers (the Number types) are reduced by MPI itself, on typed buffers with
// no copying and no encoding: Sum, Min, Max, AllSum, AllMin, AllMax for one
// value, SumSlice and AllSumSlice element-wise. A scalar reduction is exactly
// one MPI call.
//
// Func reduces values of any type with any function, applied on rank 0 in
// rank order. Fixed-size values (numbers, and arrays and structs of them) are
// copied as raw memory; others go through encoding/gob (see Func for the
// rules). MergeMoments and MergeHistogram build on the two tiers.
//
// # Errors
//
// Slices whose lengths differ across ranks, a dst of the wrong length, or
// histograms with different edges are found by a collective check before
// anything is combined, and every rank returns an error wrapping ErrMismatch:
// no rank is left waiting, and none goes on with a wrong result. A mistake
// that one rank makes alone — a nil op for Func, a Func value that cannot be
// encoded, a nil or zero Histogram — is likewise an error on every rank,
// naming the rank. Every function returns an error, and does nothing, when
// given the nil Comm that Split gives the ranks it leaves out. Errors of the
// communication itself wrap the mpi package's *mpi.Error.
//
// # Arithmetic
//
// Integer sums wrap around on overflow, modulo 2⁸, 2¹⁶, 2³² or 2⁶⁴, with no
// error: use a wider type (int64, or float64) when a total may be large. This
// is Go's rule for Local ranks and what OpenMPI and MPICH do in practice for
// unsigned types; for signed types the C standard leaves overflow undefined,
// so do not rely on the wrapped value there.
//
// Min and Max of floating-point values are NaN when any rank's value is NaN,
// under every MPI and on Local ranks alike: MPI itself compares with C's <
// and >, where a NaN wins or vanishes by its position, so these functions
// send a NaN flag beside the value, in the same single call. Whether the
// minimum of 0 and -0 is 0 or -0 is still left to the implementation.
//
// MPI chooses the order in which it adds floating-point values, and that
// order may change with the number of ranks and the MPI implementation: sums
// can differ in the last bits between runs at different sizes. When the
// result must be the same bit for bit whatever the layout, reduce with Func,
// whose order is fixed (rank order), or sum in a fixed order on rank 0.
//
// Moments merge with the pairwise formulae of Chan, Golub and LeVeque, in
// rank order; their mean and variance agree with gonum's stat.MeanVariance
// of the pooled values.
package reduce
