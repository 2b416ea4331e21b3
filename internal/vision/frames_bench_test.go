package vision

import (
	"image"
	"image/draw"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkExtractFrames times extraction on real camera frames (for A/B runs
// of two builds; scripts/compare-opencv.py uses TestExtractServe, which serves
// the same extraction frame by frame). It is skipped unless OPENCRS_BENCH_FRAMES
// names a folder of JPEG frames; OPENCRS_BENCH_LIMIT (default 200) caps how
// many, taken in name order. Frames are decoded before timing, to grey as the
// Y plane of the JPEG (what a decoder hands the extractor). Each op is one
// frame; p50-ns/frame is the median over frames of the per-frame median time.
func BenchmarkExtractFrames(b *testing.B) {
	dir := os.Getenv("OPENCRS_BENCH_FRAMES")
	if dir == "" {
		b.Skip("set OPENCRS_BENCH_FRAMES to a folder of JPEG frames")
	}
	limit := 200
	if s := os.Getenv("OPENCRS_BENCH_LIMIT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("OPENCRS_BENCH_LIMIT: %v", err)
		}
		limit = n
	}
	frames, err := loadFrames(dir, limit)
	if err != nil {
		b.Fatal(err)
	}
	if len(frames) == 0 {
		b.Fatalf("no JPEG frames in %s", dir)
	}
	e := NewExtractor(DefaultConfig())
	for _, f := range frames {
		e.Extract(f) // warm the pool and caches
	}
	times := make([][]time.Duration, len(frames))
	features := 0
	b.ResetTimer()
	t0 := processCPU()
	i := 0
	for b.Loop() {
		k := i % len(frames)
		start := time.Now()
		set := e.Extract(frames[k])
		times[k] = append(times[k], time.Since(start))
		features += set.Len()
		i++
	}
	reportCPU(b, t0)
	var med []time.Duration
	for _, ts := range times {
		if len(ts) > 0 {
			slices.Sort(ts)
			med = append(med, ts[len(ts)/2])
		}
	}
	slices.Sort(med)
	b.ReportMetric(float64(med[len(med)/2]), "p50-ns/frame")
	b.ReportMetric(float64(features)/float64(i), "features/frame")
	b.ReportMetric(float64(len(frames)), "frames")
}

// loadFrames decodes up to limit JPEGs of dir, in name order, to grey.
func loadFrames(dir string, limit int) ([]*image.Gray, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []*image.Gray
	for _, name := range names {
		if len(out) == limit {
			break
		}
		ext := strings.ToLower(filepath.Ext(name))
		if ext != ".jpg" && ext != ".jpeg" {
			continue
		}
		img, err := decodeGrayJPEG(name)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

func decodeGrayJPEG(name string) (*image.Gray, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		return nil, err
	}
	switch m := img.(type) {
	case *image.Gray:
		return m, nil
	case *image.YCbCr:
		g := image.NewGray(image.Rect(0, 0, m.Rect.Dx(), m.Rect.Dy()))
		for y := range g.Rect.Dy() {
			copy(g.Pix[y*g.Stride:y*g.Stride+g.Rect.Dx()], m.Y[m.YOffset(m.Rect.Min.X, m.Rect.Min.Y+y):])
		}
		return g, nil
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Rect, img, img.Bounds().Min, draw.Src)
	return g, nil
}
