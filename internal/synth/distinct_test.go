package synth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/opencrs/opencrs/internal/engine"
)

// TestDistractorsNotNearCopies adds distractors to an engine and searches
// with each: the engine must find it and nothing else, i.e. no distractor
// is a near-copy, even a partial one, of another.
//
// Distractor i draws its crops from slots [9i, 9i+9), and slot s from image
// s mod Len (permuted), so with a pool of at least 9n images no two of n
// distractors share a source photo. That is the case tested here. With a
// smaller pool crops of one photo are reused, and two of them that overlap
// do match each other (with a pool of 8 texture images, 11 of the first 80
// distractors match another one), so this test fails on such a pool.
func TestDistractorsNotNearCopies(t *testing.T) {
	const n = 60
	dir := t.TempDir()
	pool := sparsePool(t, dir, 9*n, n)
	// The premise: no source photo is shared.
	seen := map[int]int{}
	for i := range n {
		for s := i * piecesPerDistractor; s < (i+1)*piecesPerDistractor; s++ {
			k, _ := pool.image(s)
			if j, ok := seen[k]; ok && j != i {
				t.Fatalf("distractors %d and %d both draw on image %d", j, i, k)
			}
			seen[k] = i
		}
	}

	e, err := engine.New(engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	targets := make([]*engine.Target, n)
	errs := make([]error, n)
	parallel(n, func(i int) { targets[i], errs[i] = e.Prepare(ctx, pool.Distractor(i)) })
	var added []int
	for i, tg := range targets {
		if errors.Is(errs[i], engine.ErrNotGradable) {
			continue
		} else if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if err := e.Add(fmt.Sprint(i), tg, true); err != nil {
			t.Fatal(err)
		}
		added = append(added, i)
	}
	if len(added) < n*9/10 {
		t.Fatalf("only %d of %d distractors gradable", len(added), n)
	}
	for _, i := range added {
		res, err := e.Similar(ctx, pool.Distractor(i), 5)
		if err != nil {
			t.Fatal(err)
		}
		// Finding itself shows the search can see a copy at all.
		if len(res) == 0 || res[0].ID != fmt.Sprint(i) {
			t.Errorf("distractor %d does not find itself: %+v", i, res)
		}
		for _, r := range res {
			if r.ID != fmt.Sprint(i) {
				t.Errorf("distractor %d matches distractor %s (score %.3f, %d inliers)", i, r.ID, r.Score, r.Inliers)
			}
		}
	}
}

// sparsePool makes a pool of size images in dir of which only those that
// distractors 0..n-1 draw on are real photos (textures); the others are
// flat placeholders, which are cheap to write. Rendering the distractors
// once from a pool of placeholders shows which images they load.
func sparsePool(t *testing.T, dir string, size, n int) *Pool {
	t.Helper()
	var flat bytes.Buffer
	if err := jpeg.Encode(&flat, image.NewGray(image.Rect(0, 0, 64, 64)), nil); err != nil {
		t.Fatal(err)
	}
	for i := range size {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%03d.jpg", i)), flat.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	probe, err := OpenPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		probe.Distractor(i)
	}
	var used []int
	for k := range probe.entries {
		if probe.entries[k].levels != nil {
			used = append(used, k)
		}
	}
	errs := make([]error, len(used))
	parallel(len(used), func(j int) {
		k := used[j]
		var buf bytes.Buffer
		m := texture(480+k%7*10, 360+k%5*10, uint64(1000+k))
		if errs[j] = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); errs[j] == nil {
			errs[j] = os.WriteFile(probe.paths[k], buf.Bytes(), 0o644)
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d pool images used", len(used), size)
	p, err := OpenPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// parallel runs fn(0..n-1) on every core.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for w := range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += runtime.NumCPU() {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
