package vision

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

func randomGray(w, h int, seed uint64) *image.Gray {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := image.NewGray(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.Uint32())
	}
	return m
}

// refResize is a direct floating-point area average: output pixel (i, j)
// integrates the source over [i*sx, (i+1)*sx) x [j*sy, (j+1)*sy).
func refResize(src *image.Gray, ow, oh int) []float64 {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	sx, sy := float64(w)/float64(ow), float64(h)/float64(oh)
	cover := func(lo, hi float64, k int) float64 {
		return math.Max(0, math.Min(hi, float64(k+1))-math.Max(lo, float64(k)))
	}
	out := make([]float64, ow*oh)
	for j := 0; j < oh; j++ {
		y0, y1 := float64(j)*sy, float64(j+1)*sy
		for i := 0; i < ow; i++ {
			x0, x1 := float64(i)*sx, float64(i+1)*sx
			var sum float64
			for y := int(y0); y < h && float64(y) < y1; y++ {
				cy := cover(y0, y1, y)
				for x := int(x0); x < w && float64(x) < x1; x++ {
					sum += cy * cover(x0, x1, x) * float64(src.GrayAt(src.Rect.Min.X+x, src.Rect.Min.Y+y).Y)
				}
			}
			out[j*ow+i] = sum / (sx * sy)
		}
	}
	return out
}

func TestResize(t *testing.T) {
	tests := []struct {
		name           string
		w, h, max      int
		wantW, wantH   int
		subX, subY     int // crop offset, to exercise non-origin input
		identicalInput bool
	}{
		{"already small", 100, 80, 100, 100, 80, 0, 0, true},
		{"no limit", 100, 80, 0, 100, 80, 0, 0, true},
		{"halve", 200, 100, 100, 100, 50, 0, 0, false},
		{"third", 300, 90, 100, 100, 30, 0, 0, false},
		{"fractional landscape", 337, 211, 100, 100, 63, 0, 0, false},
		{"fractional portrait", 211, 337, 100, 63, 100, 0, 0, false},
		{"tiny ratio", 101, 50, 100, 100, 50, 0, 0, false},
		{"extreme aspect", 1000, 3, 100, 100, 1, 0, 0, false},
		{"sub-image", 250, 180, 64, 64, 46, 7, 5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			full := randomGray(tc.w+tc.subX+3, tc.h+tc.subY+2, 9)
			src := full.SubImage(image.Rect(tc.subX, tc.subY, tc.subX+tc.w, tc.subY+tc.h)).(*image.Gray)
			got := Resize(src, tc.max)
			if tc.identicalInput {
				if got != src {
					t.Fatal("expected the input image back")
				}
				return
			}
			if got.Rect != image.Rect(0, 0, tc.wantW, tc.wantH) {
				t.Fatalf("bounds %v, want %dx%d", got.Rect, tc.wantW, tc.wantH)
			}
			ref := refResize(src, tc.wantW, tc.wantH)
			for i, want := range ref {
				if d := math.Abs(float64(got.Pix[i]) - want); d > 0.6 { // 14-bit weights round a little
					t.Fatalf("pixel %d = %d, want %.2f", i, got.Pix[i], want)
				}
			}
		})
	}
}

func TestResizeFlatStaysFlat(t *testing.T) {
	for _, v := range []uint8{0, 1, 128, 254, 255} {
		m := image.NewGray(image.Rect(0, 0, 333, 217))
		for i := range m.Pix {
			m.Pix[i] = v
		}
		for i, p := range Resize(m, 97).Pix {
			if p != v {
				t.Fatalf("value %d: pixel %d became %d", v, i, p)
			}
		}
	}
}

func BenchmarkResize(b *testing.B) {
	sizes := []struct {
		name      string
		w, h, max int
	}{
		{"1280x960to640", 1280, 960, 640},
		{"4032x3024to1024", 4032, 3024, 1024},
	}
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			m := randomGray(s.w, s.h, 1)
			b.SetBytes(int64(len(m.Pix)))
			for b.Loop() {
				Resize(m, s.max)
			}
		})
	}
}
