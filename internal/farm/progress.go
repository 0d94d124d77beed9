package farm

import (
	"fmt"
	"io"
	"time"
)

// TEMPORARY, with eachN: progress is the farm's own report of --bar and
// --eta, a line each tenth of the tasks or 30 s. Once the engine hands over
// results as they arrive, the farm passes mpimap.WithProgress instead.
type progress struct {
	w              io.Writer
	total, resumed int
	done, failed   int
	start, last    time.Time
	tenth          int
}

func newProgress(w io.Writer, total, resumed int) *progress {
	p := &progress{w: w, total: total, resumed: resumed, start: time.Now(), last: time.Now()}
	if resumed > 0 {
		fmt.Fprintf(w, "progress: %d tasks done before, from the joblog; %d to run\n", resumed, total)
	}
	return p
}

// tick counts a finished task, and reports when it is time.
func (p *progress) tick(failed bool) {
	if p == nil {
		return
	}
	p.done++
	if failed {
		p.failed++
	}
	tenth := p.done * 10 / max(1, p.total)
	if tenth > p.tenth || time.Since(p.last) > 30*time.Second {
		p.tenth = tenth
		p.report()
	}
}

func (p *progress) report() {
	p.last = time.Now()
	took := time.Since(p.start)
	rate := float64(p.done) / max(took.Seconds(), 1e-9)
	left := ""
	if p.done > 0 && p.done < p.total {
		left = fmt.Sprintf(", %v left", time.Duration(float64(p.total-p.done)/rate*float64(time.Second)).Round(time.Second))
	}
	fmt.Fprintf(p.w, "progress: %d/%d (%d%%), %d failed, %.1f tasks/s%s\n",
		p.done, p.total, p.done*100/max(1, p.total), p.failed, rate, left)
}

// end reports the last figures, unless the last report has them.
func (p *progress) end() {
	if p == nil || p.tenth == 10 {
		return
	}
	p.report()
}
