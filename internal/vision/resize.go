package vision

import "image"

// weightBits is the fixed-point precision of the area weights: each output
// sample's weights sum to exactly 1<<weightBits, so flat areas stay exact.
const weightBits = 14

// span is the run of source samples that one output sample averages.
type span struct {
	first   int
	weights []uint32
}

// Resize shrinks img by area averaging (each output pixel is the mean of the
// source area it covers, fractional pixels weighted by coverage) so that its
// long side is at most maxSide, keeping the aspect ratio. Area averaging is
// the right filter for large reductions: it does not alias like point
// sampling and costs one multiply-add per source pixel per pass.
//
// It never enlarges: if img already fits, or maxSide <= 0, img itself is
// returned. Otherwise the result is a new image with its origin at (0, 0).
func Resize(img *image.Gray, maxSide int) *image.Gray {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	long := max(w, h)
	if maxSide <= 0 || long <= maxSide {
		return img
	}
	ow := max(1, (w*maxSide+long/2)/long)
	oh := max(1, (h*maxSide+long/2)/long)
	xs := spans(w, ow)
	ys := spans(h, oh)

	dst := image.NewGray(image.Rect(0, 0, ow, oh))
	acc := make([]uint32, w)
	base := img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y)
	for oy, sy := range ys {
		// Vertical pass into one accumulator row, then the horizontal pass
		// straight out of it: no full-size intermediate image, and the
		// inner loop runs along contiguous memory.
		clear(acc)
		for k, wt := range sy.weights {
			off := base + (sy.first+k)*img.Stride
			row := img.Pix[off : off+w]
			a := acc[:len(row)]
			for x, v := range row {
				a[x] += uint32(v) * wt
			}
		}
		out := dst.Pix[oy*ow : (oy+1)*ow]
		for ox, sx := range xs {
			a := acc[sx.first : sx.first+len(sx.weights)]
			var sum uint64
			for k, wt := range sx.weights {
				sum += uint64(a[k]) * uint64(wt)
			}
			out[ox] = uint8((sum + 1<<(2*weightBits-1)) >> (2 * weightBits))
		}
	}
	return dst
}

// spans computes, for a reduction of n samples to m (m <= n), the source
// samples and coverage weights of each output sample. Output i covers the
// source interval [i*n/m, (i+1)*n/m); exact integer arithmetic in units of
// 1/m source pixel keeps boundaries exact.
func spans(n, m int) []span {
	out := make([]span, m)
	one := uint64(1) << weightBits
	for i := range out {
		lo, hi := i*n, (i+1)*n // in units of 1/m
		first, last := lo/m, (hi-1)/m
		ws := make([]uint32, last-first+1)
		var total uint64
		big := 0
		for j := first; j <= last; j++ {
			a, b := max(lo, j*m), min(hi, (j+1)*m)
			wt := uint64(b-a) * one / uint64(n)
			ws[j-first] = uint32(wt)
			total += wt
			if ws[j-first] > ws[big] {
				big = j - first
			}
		}
		// Rounding leaves the sum a little short; give the rest to the
		// heaviest sample so a flat input maps to the same flat output.
		ws[big] += uint32(one - total)
		out[i] = span{first: first, weights: ws}
	}
	return out
}
