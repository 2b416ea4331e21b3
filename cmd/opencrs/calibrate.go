package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/opencrs/opencrs/internal/eval"
)

// runCalibrate is `opencrs calibrate`: it fits the engine's score on a
// labelled development set (see `opencrs devset`) and prints the weights.
func runCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", ".cache/devset", "labelled development set (opencrs devset)")
	workers := fs.Int("workers", runtime.NumCPU(), "parallel workers")
	dump := fs.String("dump", "", "also write the samples as CSV to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	samples, err := eval.Collect(ctx, eval.Options{Data: *data, IngestWorkers: *workers, Progress: stderr})
	if err != nil {
		return err
	}
	if *dump != "" {
		var b strings.Builder
		for _, s := range samples {
			fmt.Fprintf(&b, "%v", s.Right)
			for _, x := range s.X {
				fmt.Fprintf(&b, ",%.4f", x)
			}
			b.WriteByte('\n')
		}
		if err := os.WriteFile(*dump, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	eval.WriteCalibration(stdout, samples)
	return nil
}
