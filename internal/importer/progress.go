package importer

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws the import's progress: on a terminal one line redrawn in
// place (at most every redraw), elsewhere a line every interval, so logs
// stay readable.
type progress struct {
	w        io.Writer
	terminal bool
	interval time.Duration
	now      func() time.Time
	total    int
	start    time.Time
	last     time.Time
	drawn    bool
}

// redraw is the terminal refresh period: fast enough to look live, slow
// enough not to cost anything.
const redraw = 100 * time.Millisecond

func newProgress(w io.Writer, terminal bool, interval time.Duration, now func() time.Time, total, skipped int) *progress {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	p := &progress{w: w, terminal: terminal, interval: interval, now: now, total: total, start: now()}
	p.last = p.start
	if w != nil && skipped > 0 {
		fmt.Fprintf(w, "skipping %d files already imported (journal)\n", skipped)
	}
	return p
}

// update is called after each file; the caller serialises calls.
func (p *progress) update(done, failed int) {
	if p.w == nil {
		return
	}
	now := p.now()
	period := p.interval
	if p.terminal {
		period = redraw
	}
	if now.Sub(p.last) < period && p.drawn {
		return
	}
	p.last, p.drawn = now, true
	p.draw(now, done, failed)
}

func (p *progress) finish(done, failed int) {
	if p.w == nil {
		return
	}
	p.draw(p.now(), done, failed)
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(now time.Time, done, failed int) {
	line := p.line(now, done, failed)
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// line renders e.g. "[#####     ] 50/100  50%  2 failed  8.1/s  ETA 6s".
// Failures count as processed for rate and ETA.
func (p *progress) line(now time.Time, done, failed int) string {
	n := done + failed
	var b strings.Builder
	if p.terminal {
		const width = 24
		fill := 0
		if p.total > 0 {
			fill = width * n / p.total
		}
		b.WriteString("[" + strings.Repeat("#", fill) + strings.Repeat(" ", width-fill) + "] ")
	}
	pct := 100
	if p.total > 0 {
		pct = 100 * n / p.total
	}
	fmt.Fprintf(&b, "%d/%d %3d%%", n, p.total, pct)
	if failed > 0 {
		fmt.Fprintf(&b, "  %d failed", failed)
	}
	elapsed := now.Sub(p.start)
	if elapsed > 0 && n > 0 {
		rate := float64(n) / elapsed.Seconds()
		fmt.Fprintf(&b, "  %.1f/s", rate)
		if left := p.total - n; left > 0 {
			eta := time.Duration(float64(left) / rate * float64(time.Second))
			fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
		}
	}
	return b.String()
}
