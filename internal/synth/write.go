package synth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencrs/opencrs/internal/progress"
)

// WriteOptions configures WriteDistractors.
type WriteOptions struct {
	Dir      string    // output folder, created if missing
	From, N  int       // distractors From .. From+N-1
	Workers  int       // parallel workers; <= 0 means runtime.NumCPU()
	Format   string    // "jpeg" (default) or "png"
	Quality  int       // JPEG quality; <= 0 means 90
	Progress io.Writer // progress bar; nil for none
}

// WriteSummary is what WriteDistractors did.
type WriteSummary struct {
	Written, Skipped int
	Elapsed          time.Duration
}

// DistractorName is the file name of distractor i in format ("jpeg" or
// "png"): d000123.jpg.
func DistractorName(i int, format string) string {
	ext := ".jpg"
	if format == "png" {
		ext = ".png"
	}
	return fmt.Sprintf("d%06d%s", i, ext)
}

// tmpPrefix starts the name of a file being written; it is renamed to its
// final name once complete, so a crash never leaves a partial image under a
// final name. Leftovers are removed by the next run.
const tmpPrefix = ".partial-"

// WriteDistractors writes distractors opt.From .. opt.From+opt.N-1 of p to
// opt.Dir as image files named by DistractorName. It is resumable: files
// that already exist are skipped (the output is a deterministic function of
// the pool and i, so they hold what would be written). Each file is written
// under a temporary name, synced and renamed.
func WriteDistractors(ctx context.Context, p *Pool, opt WriteOptions) (WriteSummary, error) {
	var sum WriteSummary
	switch opt.Format {
	case "", "jpg":
		opt.Format = "jpeg"
	case "jpeg", "png":
	default:
		return sum, fmt.Errorf("synth: unknown format %q (jpeg or png)", opt.Format)
	}
	if opt.N < 0 || opt.From < 0 {
		return sum, fmt.Errorf("synth: negative range (from %d, n %d)", opt.From, opt.N)
	}
	if opt.Quality <= 0 {
		opt.Quality = 90
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return sum, fmt.Errorf("synth: %w", err)
	}
	ents, err := os.ReadDir(opt.Dir)
	if err != nil {
		return sum, fmt.Errorf("synth: %w", err)
	}
	exists := make(map[string]bool, len(ents))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			// Left by an interrupted run.
			if err := os.Remove(filepath.Join(opt.Dir, e.Name())); err != nil {
				return sum, fmt.Errorf("synth: %w", err)
			}
			continue
		}
		exists[e.Name()] = true
	}
	var todo []int
	for i := opt.From; i < opt.From+opt.N; i++ {
		if !exists[DistractorName(i, opt.Format)] {
			todo = append(todo, i)
		}
	}
	sum.Skipped = opt.N - len(todo)
	if sum.Skipped > 0 && opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "skipping %d distractors already in %s\n", sum.Skipped, opt.Dir)
	}

	start := time.Now()
	bar := progress.New(opt.Progress)
	tick := bar.Stage("distractors", len(todo))
	var (
		next, written atomic.Int64
		firstErr      error
		once          sync.Once
		wg            sync.WaitGroup
	)
	for range max(1, min(opt.Workers, len(todo))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(todo) || ctx.Err() != nil {
					return
				}
				if err := writeOne(p, todo[k], opt); err != nil {
					once.Do(func() { firstErr = err })
					next.Store(int64(len(todo)))
					return
				}
				written.Add(1)
				tick()
			}
		}()
	}
	wg.Wait()
	bar.Done()
	sum.Written, sum.Elapsed = int(written.Load()), time.Since(start)
	if firstErr != nil {
		return sum, firstErr
	}
	return sum, ctx.Err()
}

// writeOne encodes distractor i into a temporary file of opt.Dir and renames
// it to its final name.
func writeOne(p *Pool, i int, opt WriteOptions) (err error) {
	img := p.Distractor(i)
	name := DistractorName(i, opt.Format)
	f, err := os.CreateTemp(opt.Dir, tmpPrefix+name+"-*")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	if err := encode(w, img, opt); err != nil {
		return fmt.Errorf("synth: encode %s: %w", name, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	// Sync before the rename, so that after a power loss the final name
	// holds the whole file or does not exist.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(opt.Dir, name)); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

func encode(w io.Writer, img *image.Gray, opt WriteOptions) error {
	switch opt.Format {
	case "png":
		return png.Encode(w, img)
	case "jpeg":
		return jpeg.Encode(w, img, &jpeg.Options{Quality: opt.Quality})
	}
	return errors.New("unknown format")
}
