package main

import (
	"context"
	"flag"
	"io"
	"runtime"

	"github.com/opencrs/opencrs/internal/eval"
)

// runCalibrate is `opencrs calibrate`: it fits the engine's score on a
// labelled development set (see `opencrs devset`) and prints the weights.
func runCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", ".cache/devset", "labelled development set (opencrs devset)")
	workers := fs.Int("workers", runtime.NumCPU(), "parallel workers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	samples, err := eval.Collect(ctx, eval.Options{Data: *data, IngestWorkers: *workers, Progress: stderr})
	if err != nil {
		return err
	}
	eval.WriteCalibration(stdout, samples)
	return nil
}
