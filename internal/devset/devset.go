// Package devset writes a labelled development set in the layout of the
// public evaluation set (targets/, queries/, truth.jsonl), synthesised from
// the training image pool. It exists so the engine's decision rule can be
// calibrated, and its parameters tuned, on data that is not the evaluation
// set: the public set is kept for reporting.
package devset

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"

	"github.com/opencrs/opencrs/internal/synth"
)

// Source yields images: the pool's distractor generator in practice.
type Source interface {
	Distractor(i int) *image.Gray
}

// Pictures loads whole pool pictures by index; with it, targets and
// negatives are distinct files rather than distractors, which may share
// crops of one photo and so would label true matches as wrong.
type Pictures interface {
	Len() int
	Picture(i int) (*image.Gray, error)
}

// Options configures Write.
type Options struct {
	Dir       string // output folder, created
	Targets   int    // targets; each gets one query per level
	Negatives int    // frames of pictures that are not targets
	Seed      uint64
	Pictures  Pictures // optional; see Pictures
}

// Index ranges of the source used for each role, far apart so roles never
// share an image (and far from the small indices eval distractors use).
const (
	targetBase     = 5_000_000
	backgroundBase = 6_000_000
	negativeBase   = 7_000_000
)

type truthLine struct {
	Query      string            `json:"query"`
	Target     *string           `json:"target"`
	Difficulty string            `json:"difficulty"`
	Corners    *[4][2]float64    `json:"corners"`
	Params     synth.FrameParams `json:"params"`
}

// Write generates the set.
func Write(ctx context.Context, src Source, opt Options) error {
	for _, d := range []string{"targets", "queries"} {
		if err := os.MkdirAll(filepath.Join(opt.Dir, d), 0o755); err != nil {
			return fmt.Errorf("devset: %w", err)
		}
	}
	f, err := os.Create(filepath.Join(opt.Dir, "truth.jsonl"))
	if err != nil {
		return fmt.Errorf("devset: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	q := 0
	writeQuery := func(target *image.Gray, name *string, level string, bgIndex int) error {
		q++
		p := synth.RandomParams(level, opt.Seed^uint64(q)*0x9e3779b97f4a7c15)
		bg := src.Distractor(backgroundBase + bgIndex)
		if opt.Pictures != nil {
			var err error
			if bg, err = opt.Pictures.Picture(pick(opt, opt.Targets+opt.Negatives+bgIndex)); err != nil {
				return err
			}
		}
		frame, _, corners := synth.Frame(target, bg, p)
		qn := fmt.Sprintf("queries/q%05d.jpg", q)
		if err := writeJPEG(filepath.Join(opt.Dir, qn), frame, 95); err != nil {
			return err
		}
		line := truthLine{Query: qn, Target: name, Difficulty: level, Params: p}
		if name != nil {
			line.Corners = &corners
		} else {
			line.Difficulty = "negative"
		}
		return enc.Encode(line)
	}
	for i := 0; i < opt.Targets; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := src.Distractor(targetBase + i)
		if opt.Pictures != nil {
			var err error
			if t, err = opt.Pictures.Picture(pick(opt, i)); err != nil {
				return err
			}
		}
		name := fmt.Sprintf("targets/t%05d.jpg", i)
		if err := writeJPEG(filepath.Join(opt.Dir, name), t, 90); err != nil {
			return err
		}
		for _, level := range synth.Levels() {
			if err := writeQuery(t, &name, level, q); err != nil {
				return err
			}
		}
	}
	levels := synth.Levels()
	for i := 0; i < opt.Negatives; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		pic := src.Distractor(negativeBase + i)
		if opt.Pictures != nil {
			var err error
			if pic, err = opt.Pictures.Picture(pick(opt, opt.Targets+i)); err != nil {
				return err
			}
		}
		if err := writeQuery(pic, nil, levels[i%len(levels)], q); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("devset: %w", err)
	}
	return f.Close()
}

// pick maps the i-th picture wanted to a pool index: a stride coprime with
// the pool size spreads picks over all packages, and no index repeats until
// the pool is exhausted.
func pick(opt Options, i int) int {
	n := opt.Pictures.Len()
	stride := 7919 % n
	for stride == 0 || gcd(stride, n) != 1 {
		stride++
	}
	return int((uint64(i)*uint64(stride) + opt.Seed) % uint64(n))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func writeJPEG(path string, img *image.Gray, quality int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("devset: %w", err)
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: quality}); err != nil {
		f.Close()
		return fmt.Errorf("devset: encode %s: %w", path, err)
	}
	return f.Close()
}
