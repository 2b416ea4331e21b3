package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/index"
	"github.com/opencrs/opencrs/internal/vision"
)

// runVocab dispatches the vocab subcommands. Training lives in
// internal/index; this file only gathers descriptors from image files.
func runVocab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "train" {
		fmt.Fprintln(stderr, "usage: opencrs vocab train --images DIR --out FILE [flags]")
		return errors.New("unknown or missing vocab subcommand")
	}
	return runVocabTrain(ctx, args[1:], stdout, stderr)
}

// trainMaxSide is the long side training images are reduced to, about the
// size of the frames and targets the service sees.
const trainMaxSide = 1000

func runVocabTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vocab train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("images", "", "directory of training images (searched recursively; never the evaluation set)")
	out := fs.String("out", "", "vocabulary file to write")
	k := fs.Int("k", 10, "branching factor")
	depth := fs.Int("depth", 5, "tree depth")
	perImage := fs.Int("per-image", 500, "descriptors sampled per image")
	maxImages := fs.Int("max-images", 0, "use at most this many images, chosen at random (0: all)")
	seed := fs.Uint64("seed", 1, "random seed; training is deterministic for a seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *out == "" {
		return errors.New("--images and --out are required")
	}
	start := time.Now()

	files, err := imageFiles(*dir)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, 0))
	if *maxImages > 0 && len(files) > *maxImages {
		rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
		files = files[:*maxImages]
		slices.Sort(files)
	}
	if len(files) == 0 {
		return fmt.Errorf("no images in %s", *dir)
	}
	fmt.Fprintf(stdout, "extracting features from %d images\n", len(files))
	images, err := extractTraining(ctx, files, *perImage, *seed, stdout)
	if err != nil {
		return err
	}
	total := 0
	for _, im := range images {
		total += len(im)
	}
	fmt.Fprintf(stdout, "training k=%d depth=%d on %d descriptors from %d images (%s)\n",
		*k, *depth, total, len(images), time.Since(start).Round(time.Second))

	v, err := index.Train(ctx, images, index.TrainConfig{
		Branching: *k, Depth: *depth, Seed: *seed,
		Progress: func(done, total int) {
			fmt.Fprintf(stdout, "  subtree %d/%d done (%s)\n", done, total, time.Since(start).Round(time.Second))
		},
	})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, v); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d words, %d nodes (%s)\n", *out, v.Words(), v.Nodes(), time.Since(start).Round(time.Second))
	return nil
}

func imageFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".jpg", ".jpeg", ".png", ".webp":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	slices.Sort(files)
	return files, nil
}

// extractTraining decodes and describes files in parallel and samples up to
// perImage descriptors of each. Each image's sample depends only on seed and
// its position, so the result is the same for any number of workers.
func extractTraining(ctx context.Context, files []string, perImage int, seed uint64, stdout io.Writer) ([][]feature.Descriptor, error) {
	ex := vision.NewExtractor(vision.DefaultConfig())
	res := make([][]feature.Descriptor, len(files))
	var next, done, failed atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex // serialises progress lines
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				ds, err := trainingDescriptors(ex, files[i], perImage, seed^uint64(i)*0x9e3779b97f4a7c15)
				if err != nil {
					failed.Add(1)
					mu.Lock()
					fmt.Fprintf(stdout, "  skip %s: %v\n", files[i], err)
					mu.Unlock()
				}
				res[i] = ds
				if n := done.Add(1); n%200 == 0 {
					mu.Lock()
					fmt.Fprintf(stdout, "  %d/%d images\n", n, len(files))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := res[:0]
	for _, ds := range res {
		if len(ds) > 0 {
			out = append(out, ds)
		}
	}
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(stdout, "  %d images could not be used\n", f)
	}
	return out, nil
}

func trainingDescriptors(ex *vision.Extractor, path string, perImage int, seed uint64) ([]feature.Descriptor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := vision.Decode(data, vision.Limits{})
	if err != nil {
		return nil, err
	}
	ds := ex.Extract(vision.Resize(img, trainMaxSide)).Descriptors
	if len(ds) > perImage {
		r := rand.New(rand.NewPCG(seed, 1))
		r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		ds = slices.Clone(ds[:perImage]) // release the rest
	}
	return ds, nil
}

func writeFileAtomic(path string, v *index.Vocabulary) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vocab-*")
	if err != nil {
		return fmt.Errorf("write vocabulary: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := v.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write vocabulary: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write vocabulary: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write vocabulary: %w", err)
	}
	return nil
}
