package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"

	"github.com/opencrs/opencrs/internal/synth"
)

// runGenTargets is `opencrs gen-targets`: deterministic distractor target
// images from the training pool, written as files (resumable).
func runGenTargets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen-targets", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 0, "number of distractor images to write (required)")
	out := fs.String("out", "", "output folder (required); existing files are kept, so a rerun resumes")
	pool := fs.String("pool", settingOr("OPENCRS_TRAIN_DIR", ".cache/training")+"/images", "training image pool (scripts/fetch-training-images.sh)")
	from := fs.Int("from", 0, "index of the first distractor")
	workers := fs.Int("workers", runtime.NumCPU(), "parallel workers")
	format := fs.String("format", "jpeg", "image format: jpeg (quality 90) or png")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *n <= 0:
		return errors.New("--n must be positive")
	case *out == "":
		return errors.New("--out is required")
	case *from < 0:
		return errors.New("--from must not be negative")
	case *format != "jpeg" && *format != "jpg" && *format != "png":
		return fmt.Errorf("--format %q: want jpeg or png", *format)
	}
	p, err := synth.OpenPool(*pool)
	if err != nil {
		return fmt.Errorf("pool (run scripts/fetch-training-images.sh): %w", err)
	}
	sum, err := synth.WriteDistractors(ctx, p, synth.WriteOptions{
		Dir: *out, From: *from, N: *n, Workers: *workers, Format: *format, Progress: stderr,
	})
	if err != nil {
		return err
	}
	rate := 0.0
	if s := sum.Elapsed.Seconds(); s > 0 {
		rate = float64(sum.Written) / s
	}
	fmt.Fprintf(stdout, "wrote %d distractors (%d already present) to %s in %.1f s, %.1f images/s\n",
		sum.Written, sum.Skipped, *out, sum.Elapsed.Seconds(), rate)
	return nil
}
