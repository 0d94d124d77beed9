// Package recovered turns a recovered panic into an error.
package recovered

import (
	"fmt"
	"runtime"
)

// Error is an error for the panic value v, to be called in the deferred
// function that recovered it: it keeps v (matchable with errors.Is/As when v
// is an error) and the stack of the goroutine that panicked.
func Error(v any) error {
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	if err, ok := v.(error); ok {
		return fmt.Errorf("panic: %w\n\n%s", err, buf)
	}
	return fmt.Errorf("panic: %v\n\n%s", v, buf)
}
