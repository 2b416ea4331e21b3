package synth

import (
	"image"
	"math"
)

// rng is splitmix64: tiny, fast, and fixed forever, unlike the helpers of
// math/rand whose exact outputs may change between Go releases.
type rng uint64

func newRNG(seeds ...uint64) *rng {
	r := rng(0x853c49e6748fea9b)
	for _, s := range seeds {
		r = rng(uint64(r) ^ s)
		r = rng(r.next())
	}
	return &r
}

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// uniform returns a uniform value in [lo, hi).
func (r *rng) uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// normal2 returns two independent standard normal values (Box–Muller;
// both halves of the pair, since the logarithm dominates the cost).
func (r *rng) normal2() (float64, float64) {
	u := 1 - r.float() // (0, 1]
	m := math.Sqrt(-2 * math.Log(u))
	s, c := math.Sincos(2 * math.Pi * r.float())
	return m * c, m * s
}

// halve returns img shrunk by exactly 2 (each pixel the mean of a 2x2
// block; an odd last row or column is dropped). The halved pixel (i, j) is
// centred on source point (2i+0.5, 2j+0.5).
func halve(img *image.Gray) *image.Gray {
	w, h := img.Rect.Dx()/2, img.Rect.Dy()/2
	dst := image.NewGray(image.Rect(0, 0, max(w, 1), max(h, 1)))
	if w == 0 || h == 0 {
		dst.Pix[0] = img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y)]
		return dst
	}
	for y := 0; y < h; y++ {
		a := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+2*y):]
		b := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+2*y+1):]
		a, b = a[:2*w], b[:2*w]
		row := dst.Pix[y*w : (y+1)*w]
		for x := range row {
			row[x] = uint8((uint32(a[2*x]) + uint32(a[2*x+1]) + uint32(b[2*x]) + uint32(b[2*x+1]) + 2) >> 2)
		}
	}
	return dst
}

// halveMap is the homography from level-k pixel coordinates to level-(k+1)
// coordinates of a halving pyramid.
func halveMap() Homography { return scale(0.5, 0.5).Mul(translate(-0.5, -0.5)) }

// toGray converts a decoded image to grey (ITU-R 601 luma, alpha over white)
// with its origin at (0, 0). It has fast paths for what JPEG and PNG decode
// to; internal/vision has a more complete converter, but synth stays
// independent of it so vision's own tests can use synth.
func toGray(m image.Image) *image.Gray {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewGray(image.Rect(0, 0, w, h))
	switch s := m.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*w:(y+1)*w], s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*w:(y+1)*w], s.Y[s.YOffset(b.Min.X, b.Min.Y+y):])
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			p := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := dst.Pix[y*w : (y+1)*w]
			for x := range row {
				q := p[4*x : 4*x+4 : 4*x+4]
				a := uint32(q[3])
				l := (19595*uint32(q[0]) + 38470*uint32(q[1]) + 7471*uint32(q[2]) + 1<<15) >> 16
				row[x] = uint8((l*a + 255*(255-a) + 127) / 255)
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			p := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := dst.Pix[y*w : (y+1)*w]
			for x := range row {
				q := p[4*x : 4*x+4 : 4*x+4]
				l := (19595*uint32(q[0])+38470*uint32(q[1])+7471*uint32(q[2])+1<<15)>>16 + 255 - uint32(q[3])
				row[x] = uint8(min(l, 255))
			}
		}
	default:
		for y := 0; y < h; y++ {
			row := dst.Pix[y*w : (y+1)*w]
			for x := range row {
				r, g, bl, a := m.At(b.Min.X+x, b.Min.Y+y).RGBA()
				l := (19595*r+38470*g+7471*bl+1<<15)>>16 + 0xffff - a
				row[x] = uint8(min(l, 0xffff) >> 8)
			}
		}
	}
	return dst
}

// gaussianBlur blurs img in place with a separable Gaussian of the given
// sigma (no-op below 0.2, where the kernel is essentially a delta).
func gaussianBlur(img *image.Gray, sigma float64) {
	if sigma < 0.2 {
		return
	}
	r := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*r+1)
	var sum float64
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	tmp := make([]float64, w*h)
	line := make([]float64, max(w, h))
	for y := 0; y < h; y++ {
		src := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):]
		for x := 0; x < w; x++ {
			var acc float64
			for i, kv := range k {
				acc += kv * float64(src[min(max(x+i-r, 0), w-1)])
			}
			tmp[y*w+x] = acc
		}
	}
	// Vertical pass row by row over the horizontal result, so memory is
	// read in order.
	acc := line[:w]
	for y := 0; y < h; y++ {
		clear(acc)
		for i, kv := range k {
			src := tmp[min(max(y+i-r, 0), h-1)*w:][:w]
			for x, v := range src {
				acc[x] += kv * v
			}
		}
		dst := img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):][:w]
		for x, v := range acc {
			dst[x] = clamp8(v)
		}
	}
}

func clamp8(v float64) uint8 {
	if v <= 0 || math.IsNaN(v) {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}

// toneLUT maps grey levels through contrast about mid-grey, a brightness
// offset and then gamma, the order a camera pipeline roughly applies them.
func toneLUT(contrast, brightness, gamma float64) (lut [256]uint8) {
	if contrast == 0 {
		contrast = 1
	}
	if gamma <= 0 {
		gamma = 1
	}
	for i := range lut {
		v := contrast*(float64(i)-127.5) + 127.5 + brightness
		v = math.Min(math.Max(v, 0), 255)
		lut[i] = clamp8(255 * math.Pow(v/255, gamma))
	}
	return lut
}

func applyLUT(img *image.Gray, lut *[256]uint8) {
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		row := img.Pix[img.PixOffset(img.Rect.Min.X, y):img.PixOffset(img.Rect.Max.X, y)]
		for i, v := range row {
			row[i] = lut[v]
		}
	}
}
