package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/opencrs/opencrs/internal/eval"
	"github.com/opencrs/opencrs/internal/synth"
)

// runEval is `opencrs eval`: it measures the engine on a labelled data set.
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	largeHeapGC()
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "../shared/eval", "data set folder (targets/, queries/, truth.jsonl)")
	distractors := fs.Int("distractors", 0, "synthetic distractor targets to add")
	pool := fs.String("pool", settingOr("OPENCRS_TRAIN_DIR", ".cache/training")+"/images", "image pool for distractors (scripts/fetch-training-images.sh)")
	workers := fs.Int("workers", 1, "parallel workers for ingest and queries (latency figures want 1)")
	ingestWorkers := fs.Int("ingest-workers", runtime.NumCPU(), "parallel workers for adding targets and distractors")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	cache := fs.String("distractor-cache", "", "keep prepared distractors in this folder between runs (delete it when the extractor changes)")
	synthetic := fs.Int("synthetic", 0, "add this many SIMULATED distractors: feature-level mosaics of prepared targets, no images (internal/featsynth)")
	syntheticBase := fs.String("synthetic-base", ".cache/dcache", "folder of prepared targets (*.oct, e.g. a --distractor-cache) the synthetic distractors are drawn from")
	syntheticBaseN := fs.Int("synthetic-base-count", eval.DefaultSyntheticBaseCount, "base targets read from --synthetic-base (the first in name order)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opt := eval.Options{
		Data: *data, Distractors: *distractors, Workers: *workers,
		IngestWorkers: *ingestWorkers, Progress: stderr, DistractorCache: *cache,
		Synthetic: *synthetic, SyntheticBase: *syntheticBase, SyntheticBaseCount: *syntheticBaseN,
	}
	if *distractors > 0 {
		p, err := synth.OpenPool(*pool)
		if err != nil {
			return fmt.Errorf("distractor pool (run scripts/fetch-training-images.sh): %w", err)
		}
		opt.Pool = p
	}
	rep, err := eval.Run(ctx, opt)
	if err != nil {
		return err
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}
