package reduce

// SetMaxCount lowers the number of elements per MPI call, so that tests
// exercise the chunked path without gigabytes of data; it returns a function
// that restores the limit.
func SetMaxCount(n int) (restore func()) {
	old := maxCount
	maxCount = n
	return func() { maxCount = old }
}
