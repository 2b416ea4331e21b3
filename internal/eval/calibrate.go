package eval

import (
	"context"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/progress"
	"github.com/opencrs/opencrs/internal/vision"
)

// Sample is one verified candidate of a labelled query: the measurements the
// engine's score is computed from and whether it was the right target.
type Sample struct {
	X     []float64
	Right bool
}

// Collect adds the targets of a labelled set to a fresh engine and returns
// one Sample per verified candidate of every query.
func Collect(ctx context.Context, opt Options) ([]Sample, error) {
	truth, err := readTruthFile(opt.Data)
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	eng, err := engine.New(opt.Engine)
	if err != nil {
		return nil, err
	}
	targets := map[string]bool{}
	for _, t := range truth {
		if t.Target != nil {
			targets[*t.Target] = true
		}
	}
	names := make([]string, 0, len(targets))
	for t := range targets {
		names = append(names, t)
	}
	sort.Strings(names)
	workers := max(1, opt.IngestWorkers)
	prog := progress.New(opt.Progress)
	err = parallel(ctx, len(names), workers, prog.Stage("targets", len(names)), func(i int) error {
		img, err := decodeFile(filepath.Join(opt.Data, names[i]))
		if err != nil {
			return err
		}
		t, err := eng.Prepare(ctx, img)
		if err != nil {
			return nil
		}
		return eng.Add(names[i], t, true)
	})
	if err != nil {
		return nil, err
	}
	per := make([][]Sample, len(truth))
	err = parallel(ctx, len(truth), workers, prog.Stage("queries", len(truth)), func(i int) error {
		img, err := decodeFile(filepath.Join(opt.Data, truth[i].Query))
		if err != nil {
			return err
		}
		vs, err := eng.Explain(ctx, eng.ExtractQuery(img))
		if err != nil {
			return err
		}
		for _, v := range vs {
			right := truth[i].Target != nil && v.ID == *truth[i].Target
			per[i] = append(per[i], Sample{X: engine.ScoreFeatures(&v), Right: right})
		}
		return nil
	})
	prog.Done()
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, s := range per {
		out = append(out, s...)
	}
	return out, nil
}

func decodeFile(path string) (*image.Gray, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := vision.Decode(data, vision.Limits{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// FitLogistic fits weights w (bias first) of P(right) = σ(w·[1,x]) by
// Newton's method with a small ridge penalty, which keeps the fit finite when
// the classes separate.
func FitLogistic(samples []Sample, ridge float64, iters int) []float64 {
	if len(samples) == 0 {
		return nil
	}
	d := len(samples[0].X) + 1
	w := make([]float64, d)
	x := make([]float64, d)
	for it := 0; it < iters; it++ {
		g := make([]float64, d)
		h := make([][]float64, d)
		for i := range h {
			h[i] = make([]float64, d)
			h[i][i] = ridge
			g[i] = ridge * w[i]
		}
		for _, s := range samples {
			x[0] = 1
			copy(x[1:], s.X)
			z := 0.0
			for j := range w {
				z += w[j] * x[j]
			}
			p := 1 / (1 + math.Exp(-z))
			y := 0.0
			if s.Right {
				y = 1
			}
			for j := range d {
				g[j] += (p - y) * x[j]
				for k := range d {
					h[j][k] += p * (1 - p) * x[j] * x[k]
				}
			}
		}
		step := solve(h, g)
		if step == nil {
			break
		}
		for j := range w {
			w[j] -= step[j]
		}
	}
	return w
}

// solve returns a with a·x = b by Gaussian elimination with partial pivoting,
// or nil when a is singular.
func solve(a [][]float64, b []float64) []float64 {
	n := len(b)
	m := make([][]float64, n)
	for i := range m {
		m[i] = append(append([]float64(nil), a[i]...), b[i])
	}
	for c := 0; c < n; c++ {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-12 {
			return nil
		}
		m[c], m[p] = m[p], m[c]
		for r := 0; r < n; r++ {
			if r == c {
				continue
			}
			f := m[r][c] / m[c][c]
			for k := c; k <= n; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	x := make([]float64, n)
	for i := range x {
		x[i] = m[i][n] / m[i][i]
	}
	return x
}

// WriteCalibration fits the model and prints the weights and how the fitted
// score separates right from wrong candidates.
func WriteCalibration(w io.Writer, samples []Sample) []float64 {
	wts := FitLogistic(samples, 1e-3, 30)
	right, wrong := 0, 0
	var tp, fp int
	for _, s := range samples {
		z := wts[0]
		for j, v := range s.X {
			z += wts[j+1] * v
		}
		p := 1 / (1 + math.Exp(-z))
		if s.Right {
			right++
			if p >= 0.5 {
				tp++
			}
		} else {
			wrong++
			if p >= 0.5 {
				fp++
			}
		}
	}
	fmt.Fprintf(w, "samples: %d right, %d wrong verified candidates\n", right, wrong)
	fmt.Fprintf(w, "weights (bias, %s): %v\n", engine.ScoreFeatureNames, wts)
	fmt.Fprintf(w, "at score >= 0.5: %d right kept (%.1f%%), %d wrong kept\n", tp, 100*float64(tp)/float64(max(right, 1)), fp)
	return wts
}
