package eval

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws one bar per stage. On a terminal it redraws in place; on
// anything else (CI logs, files) it prints a line every few seconds so logs
// stay readable.
type progress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	name  string
	total int
	done_ int
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// stage starts a new bar and returns the function that advances it by one.
func (p *progress) stage(name string, total int) func() {
	p.mu.Lock()
	p.finishLocked()
	p.name, p.total, p.done_, p.start, p.last = name, total, 0, time.Now(), time.Time{}
	p.mu.Unlock()
	return p.tick
}

func (p *progress) tick() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done_++
	now := time.Now()
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.last) < every && p.done_ < p.total {
		return
	}
	p.last = now
	p.drawLocked(now)
}

func (p *progress) drawLocked(now time.Time) {
	if p.w == nil || p.total == 0 {
		return
	}
	frac := float64(p.done_) / float64(p.total)
	const width = 30
	bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
	el := now.Sub(p.start)
	rate := float64(p.done_) / el.Seconds()
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.done_) / rate * float64(time.Second)).Round(time.Second).String()
	}
	line := fmt.Sprintf("%-11s [%s] %d/%d %.1f/s eta %s", p.name, bar, p.done_, p.total, rate, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) finishLocked() {
	if p.w != nil && p.tty && p.total > 0 {
		p.drawLocked(time.Now())
		fmt.Fprintln(p.w)
	}
	p.total = 0
}

func (p *progress) done() {
	p.mu.Lock()
	p.finishLocked()
	p.mu.Unlock()
}
