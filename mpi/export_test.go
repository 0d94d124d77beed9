package mpi

var (
	ReportFailures = reportFailures
	RankLabel      = rankLabel
)
