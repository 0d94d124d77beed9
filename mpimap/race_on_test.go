//go:build race

package mpimap_test

// raceDetector is set in tests built with -race, under which every copy of a
// megabyte is checked byte by byte.
const raceDetector = true
