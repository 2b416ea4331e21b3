package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/opencrs/opencrs/internal/devset"
	"github.com/opencrs/opencrs/internal/synth"
)

// runDevset is `opencrs devset`: a synthetic labelled set from the training
// pool, for tuning and calibrating without touching the evaluation set.
func runDevset(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pool := fs.String("pool", settingOr("OPENCRS_TRAIN_DIR", ".cache/training")+"/images", "training image pool")
	out := fs.String("out", ".cache/devset", "output folder")
	targets := fs.Int("targets", 200, "targets (one query per difficulty level each)")
	negatives := fs.Int("negatives", 250, "negative frames")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := synth.OpenPool(*pool)
	if err != nil {
		return fmt.Errorf("pool (run scripts/fetch-training-images.sh): %w", err)
	}
	pics, err := devset.OpenDir(*pool, 1000)
	if err != nil {
		return err
	}
	opt := devset.Options{Dir: *out, Targets: *targets, Negatives: *negatives, Seed: *seed, Pictures: pics}
	if err := devset.Write(ctx, p, opt); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d targets, %d queries to %s\n", *targets, 4**targets+*negatives, *out)
	return nil
}
