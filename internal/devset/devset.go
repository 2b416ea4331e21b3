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

// Options configures Write.
type Options struct {
	Dir       string // output folder, created
	Targets   int    // targets; each gets one query per level
	Negatives int    // frames of pictures that are not targets
	Seed      uint64
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
		frame, _, corners := synth.Frame(target, src.Distractor(backgroundBase+bgIndex), p)
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
		if err := writeQuery(pic, nil, levels[i%len(levels)], q); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("devset: %w", err)
	}
	return f.Close()
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
