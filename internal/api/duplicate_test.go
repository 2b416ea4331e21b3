package api_test

import (
	"sync"
	"testing"
)

// Concurrent creates of one image: the duplicate check's query features are
// extracted before the write lock, but its search runs under it, so exactly
// one create passes and the others are refused as duplicates of it.
func TestConcurrentDuplicateCreates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	img := textureB64(t, 200)
	const n = 4
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			r := e.m("POST", "/targets", e.apiKeyCred(), map[string]any{"name": "same", "image": img})
			codes[i] = r.StatusCode
		})
	}
	wg.Wait()
	ok, dup := 0, 0
	for _, c := range codes {
		switch c {
		case 0:
			ok++
		case 403:
			dup++
		}
	}
	if ok != 1 || dup != n-1 {
		t.Fatalf("statusCodes %v: want one 0 and %d × 403", codes, n-1)
	}
	if c := e.count(); c != 1 {
		t.Fatalf("count %d, want 1", c)
	}
}
