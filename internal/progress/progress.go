// Package progress draws a progress bar for long batch jobs (evaluation,
// distractor generation). On a terminal it redraws one line in place; on
// anything else (CI logs, files) it prints a line every few seconds, so logs
// stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar draws one bar per stage. It is safe for concurrent use; a nil writer
// draws nothing.
type Bar struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	name  string
	total int
	n     int
	start time.Time
	last  time.Time
}

// New returns a bar drawing on w (nil for none). w is taken to be a terminal
// when it is a character device.
func New(w io.Writer) *Bar {
	p := &Bar{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// Stage finishes the current bar, starts a new one of total steps and
// returns the function that advances it by one (safe for concurrent use).
func (p *Bar) Stage(name string, total int) func() {
	p.mu.Lock()
	p.finishLocked()
	p.name, p.total, p.n, p.start, p.last = name, total, 0, time.Now(), time.Time{}
	p.mu.Unlock()
	return p.tick
}

func (p *Bar) tick() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	now := time.Now()
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.last) < every && p.n < p.total {
		return
	}
	p.last = now
	p.drawLocked(now)
}

func (p *Bar) drawLocked(now time.Time) {
	if p.w == nil || p.total == 0 {
		return
	}
	frac := float64(p.n) / float64(p.total)
	const width = 30
	bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
	el := now.Sub(p.start)
	rate := float64(p.n) / el.Seconds()
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.n) / rate * float64(time.Second)).Round(time.Second).String()
	}
	line := fmt.Sprintf("%-11s [%s] %d/%d %.1f/s eta %s", p.name, bar, p.n, p.total, rate, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *Bar) finishLocked() {
	if p.w != nil && p.tty && p.total > 0 {
		p.drawLocked(time.Now())
		fmt.Fprintln(p.w)
	}
	p.total = 0
}

// Done finishes the current bar.
func (p *Bar) Done() {
	p.mu.Lock()
	p.finishLocked()
	p.mu.Unlock()
}
