package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestBarConcurrentTicks(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf)
	tick := p.Stage("items", 100)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				tick()
			}
		}()
	}
	wg.Wait()
	p.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "items") || !strings.Contains(last, "100/100") || !strings.Contains(last, "eta 0s") {
		t.Fatalf("last line %q", last)
	}
	// Not a terminal: no carriage returns, and a line at most every few
	// seconds (the first tick and the last).
	if strings.Contains(buf.String(), "\r") || len(lines) > 2 {
		t.Fatalf("output:\n%s", buf.String())
	}
}

func TestBarNilWriter(t *testing.T) {
	p := New(nil)
	tick := p.Stage("x", 3)
	tick()
	tick()
	p.Done()
}
