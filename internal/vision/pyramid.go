package vision

import (
	"image"
	"math"
)

// buildPyramid fills sc.levels. Level 0 aliases img when its rows are packed
// and is copied otherwise (sub-images); every further level is resampled from
// the previous one, so each resize shrinks by only ScaleFactor and bilinear
// interpolation aliases little.
func (e *Extractor) buildPyramid(sc *scratch, img *image.Gray) []level {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()

	// Level sizes first, so one buffer holds them all.
	sc.levels = sc.levels[:0]
	total := 0
	copy0 := img.Stride != w
	for l, s := range e.scales {
		lw, lh := w, h
		if l > 0 {
			lw = int(math.Round(float64(w) / s))
			lh = int(math.Round(float64(h) / s))
		}
		if lw < minLevelSide || lh < minLevelSide {
			break
		}
		if l > 0 || copy0 {
			total += lw * lh
		}
		sc.levels = append(sc.levels, level{w: lw, h: lh, scale: s})
	}
	if cap(sc.pyr) < total {
		sc.pyr = make([]byte, total)
	}
	buf := sc.pyr[:total]

	lv0 := &sc.levels[0]
	off := img.PixOffset(b.Min.X, b.Min.Y)
	if copy0 {
		lv0.pix = buf[:w*h]
		buf = buf[w*h:]
		for y := range h {
			copy(lv0.pix[y*w:y*w+w], img.Pix[off+y*img.Stride:])
		}
	} else {
		lv0.pix = img.Pix[off : off+w*h]
	}
	for l := 1; l < len(sc.levels); l++ {
		lv := &sc.levels[l]
		lv.pix = buf[:lv.w*lv.h]
		buf = buf[lv.w*lv.h:]
		src := &sc.levels[l-1]
		if e.cfg.ScaleFactor == 1.2 {
			downscale6to5(lv.pix, lv.w, lv.h, src.pix, src.w, src.h)
		} else {
			downscale(sc, lv.pix, lv.w, lv.h, src.pix, src.w, src.h, e.cfg.ScaleFactor)
		}
	}
	return sc.levels
}

// downscale resamples src (sw x sh) into dst (dw x dh) bilinearly, where a
// destination pixel centre x maps to source (x+0.5)*s-0.5. That pixel-centre
// convention is also how keypoints are mapped back to level 0, so positions
// agree across levels. Weights are 8-bit fixed point.
func downscale(sc *scratch, dst []byte, dw, dh int, src []byte, sw, sh int, s float64) {
	if cap(sc.xmap) < dw {
		sc.xmap = make([]int32, dw)
		sc.xwt = make([]int32, dw)
	}
	xmap, xwt := sc.xmap[:dw], sc.xwt[:dw]
	for x := range dw {
		i, wt := sampleAt(x, s, sw)
		xmap[x], xwt[x] = int32(i), int32(wt)
	}
	for y := range dh {
		y0, wy := sampleAt(y, s, sh)
		r0 := src[y0*sw : y0*sw+sw]
		r1 := src[(y0+1)*sw : (y0+1)*sw+sw]
		out := dst[y*dw : y*dw+dw]
		wy0, wy1 := int32(256-wy), int32(wy)
		for x := range out {
			i := int(xmap[x])
			wx := xwt[x]
			if i < 0 || i+1 >= len(r0) || i+1 >= len(r1) {
				continue // unreachable: sampleAt keeps i+1 < sw
			}
			a := int32(r0[i])<<8 + (int32(r0[i+1])-int32(r0[i]))*wx
			c := int32(r1[i])<<8 + (int32(r1[i+1])-int32(r1[i]))*wx
			out[x] = uint8((a*wy0 + c*wy1 + 1<<15) >> 16)
		}
	}
}

// sixFifths are the 8-bit weights of the right/bottom neighbour for the
// five phases of a 1.2 downscale: destination 5g+r samples source 6g+r+0.1+0.2r.
var sixFifths = [5]int32{26, 77, 128, 179, 230}

// downscale6to5 is downscale for s = 1.2, the default. Every 5 destination
// pixels read 6 source pixels with the same five weights, so the weights
// become constants and the index tables disappear. It produces exactly what
// downscale would.
func downscale6to5(dst []byte, dw, dh int, src []byte, sw, sh int) {
	for y := range dh {
		y0, wy := 6*(y/5)+y%5, sixFifths[y%5]
		if y0+1 >= sh {
			y0, wy = sh-2, 256
		}
		r0 := src[y0*sw : y0*sw+sw]
		r1 := src[(y0+1)*sw : (y0+1)*sw+sw]
		out := dst[y*dw : y*dw+dw]
		wy0 := 256 - wy
		x := 0
		for s := 0; x+5 <= len(out) && s+6 <= len(r0) && s+6 <= len(r1); s += 6 {
			a, b, o := r0[s:s+6], r1[s:s+6], out[x:x+5]
			o[0] = blend(a[0], a[1], b[0], b[1], 26, wy0, wy)
			o[1] = blend(a[1], a[2], b[1], b[2], 77, wy0, wy)
			o[2] = blend(a[2], a[3], b[2], b[3], 128, wy0, wy)
			o[3] = blend(a[3], a[4], b[3], b[4], 179, wy0, wy)
			o[4] = blend(a[4], a[5], b[4], b[5], 230, wy0, wy)
			x += 5
		}
		for ; x < len(out); x++ {
			i, wx := sampleAt(x, 1.2, sw)
			out[x] = blend(r0[i], r0[i+1], r1[i], r1[i+1], int32(wx), wy0, wy)
		}
	}
}

// blend interpolates bilinearly between a0, a1 (top) and b0, b1 (bottom)
// with 8-bit weights, rounding like downscale.
func blend(a0, a1, b0, b1 uint8, wx, wy0, wy1 int32) uint8 {
	a := int32(a0)<<8 + (int32(a1)-int32(a0))*wx
	c := int32(b0)<<8 + (int32(b1)-int32(b0))*wx
	return uint8((a*wy0 + c*wy1 + 1<<15) >> 16)
}

// sampleAt returns the left/top source index and the 8-bit weight of its
// right/bottom neighbour for destination index d at scale s, clamped so both
// neighbours exist.
func sampleAt(d int, s float64, n int) (int, int) {
	f := (float64(d)+0.5)*s - 0.5
	if f <= 0 {
		return 0, 0
	}
	i := int(f)
	if i >= n-1 {
		return n - 2, 256
	}
	return i, int((f-float64(i))*256 + 0.5)
}
