// Package pngtest reads the PNG pictures that tests of the trace package and
// of hpcmap trace draw.
package pngtest

import (
	"image"
	"image/png"
	"os"
	"testing"
)

// Decode reads the PNG at path, failing the test if it cannot.
func Decode(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}
