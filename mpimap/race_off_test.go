//go:build !race

package mpimap_test

const raceDetector = false
