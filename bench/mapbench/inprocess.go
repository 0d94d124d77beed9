//go:build hpcmapbench

package main

import "github.com/hpcmap/hpcmap/mpi"

func init() { cAllreduceLoop = mpi.CAllreduceLoop }
