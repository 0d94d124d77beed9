//go:build hpcmapbench

package main

import "github.com/hpcmap/hpcmap/bench/cloop"

func init() { cAllreduceLoop = cloop.AllreduceLoop }
