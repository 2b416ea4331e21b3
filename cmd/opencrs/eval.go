package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/opencrs/opencrs/internal/engine"
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
	shared := fs.Bool("synthetic-shared-features", false, "verify synthetic distractors with the features of a few real ones (engine.AddSimulated), so a million need no feature file of 100 GB")
	inRAM := fs.Bool("features-in-ram", false, "keep verification features in RAM instead of a temporary feature file (the service's default is the file)")
	restart := fs.Bool("restart", false, "after ingest, snapshot the engine and restore it from the snapshot (timed); queries run on the restored engine")
	maxPostings := fs.Int("vote-max-postings", 0, "index at most this many descriptors per target (engine.Config.VoteMaxPostings; 0: all)")
	skipUnusable := fs.Bool("skip-unusable", false, "leave out targets the engine refuses (too few features) and their queries instead of failing; the table says how many")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ecfg := engine.Config{VoteMaxPostings: *maxPostings}
	if !*inRAM {
		dir, err := os.MkdirTemp("", "opencrs-eval-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ecfg.FeatureFile = filepath.Join(dir, "features")
	}
	opt := eval.Options{
		Engine: ecfg, SyntheticShared: *shared, Restart: *restart,
		Data: *data, Distractors: *distractors, Workers: *workers,
		IngestWorkers: *ingestWorkers, Progress: stderr, DistractorCache: *cache,
		Synthetic: *synthetic, SyntheticBase: *syntheticBase, SyntheticBaseCount: *syntheticBaseN,
		SkipUnusable: *skipUnusable,
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
