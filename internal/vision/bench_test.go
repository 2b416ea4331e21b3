package vision

import (
	"image"

	"github.com/opencrs/opencrs/internal/feature"
	"sync"
	"testing"
	"time"
)

// benchImage is shared by the benchmarks; building it takes longer than
// one extraction.
var benchImage = sync.OnceValue(func() *image.Gray { return synthImage(640, 480, 7) })

func BenchmarkExtract640x480(b *testing.B) {
	img := benchImage()
	e := NewExtractor(DefaultConfig())
	n := e.Extract(img).Len()
	b.ReportAllocs()
	b.ResetTimer()
	t0 := processCPU()
	for b.Loop() {
		e.Extract(img)
	}
	reportCPU(b, t0)
	b.ReportMetric(float64(n), "features")
}

func BenchmarkPyramid(b *testing.B) {
	img := benchImage()
	e := NewExtractor(DefaultConfig())
	sc := new(scratch)
	b.ReportAllocs()
	t0 := processCPU()
	for b.Loop() {
		e.buildPyramid(sc, img)
	}
	reportCPU(b, t0)
}

// BenchmarkFAST scans the full level-0 interior at the default threshold.
func BenchmarkFAST(b *testing.B) {
	img := benchImage()
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	score := make([]uint16, w*h)
	half := make([]byte, w*h)
	var cs []hit
	var fs fastScratch
	b.ReportAllocs()
	t0 := processCPU()
	for b.Loop() {
		halvePixels(half, img.Pix)
		cs = detectFAST(img.Pix, half, w, border, border, w-border, h-border, 20, score, cs[:0], &fs)
		clear(score)
	}
	reportCPU(b, t0)
	b.ReportMetric(float64(len(cs)), "corners")
}

// BenchmarkDetect covers everything before description: pyramid, FAST,
// suppression, Harris, bucketing and orientation.
func BenchmarkDetect(b *testing.B) {
	img := benchImage()
	e := NewExtractor(DefaultConfig())
	sc := new(scratch)
	b.ReportAllocs()
	t0 := processCPU()
	for b.Loop() {
		levels := e.buildPyramid(sc, img)
		budgets := e.budgets(levels)
		for l := range levels {
			e.detect(sc, &levels[l], budgets[l])
		}
	}
	reportCPU(b, t0)
}

// BenchmarkDescribe covers the integral images and the 256-bit tests for
// the keypoints of every level.
func BenchmarkDescribe(b *testing.B) {
	img := benchImage()
	e := NewExtractor(DefaultConfig())
	sc := new(scratch)
	levels := e.buildPyramid(sc, img)
	budgets := e.budgets(levels)
	kps := make([][]corner, len(levels))
	for l := range levels {
		kps[l] = append([]corner(nil), e.detect(sc, &levels[l], budgets[l])...)
	}
	b.ReportAllocs()
	t0 := processCPU()
	for b.Loop() {
		set := &feature.Set{}
		for l := range levels {
			e.describeLevel(sc, &levels[l], kps[l], l, set)
		}
	}
	reportCPU(b, t0)
}

// reportCPU reports process CPU time per op since t0 (see processCPU).
func reportCPU(b *testing.B, t0 time.Duration) {
	if t0 == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(processCPU()-t0)/float64(b.N), "cpu-ns/op")
}
