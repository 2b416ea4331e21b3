package vision

import (
	"encoding/binary"
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
			downscale6to5(sc, lv.pix, lv.w, lv.h, src.pix, src.w, src.h)
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

// downscale6to5 is downscale for s = 1.2, the default, and produces exactly
// what downscale would. Each destination row blends its two source rows
// vertically (one weight for the whole row) into 8.8 fixed point values,
// then every 5 destination pixels interpolate 6 blended columns with the
// same five weights, which become constants. Both passes run in registers
// on 6 source columns at a time (downscaleRow6to5), so the blended values
// never go through memory; with AVX2, downscaleRowAVX2 does 40 destination
// pixels per step.
func downscale6to5(sc *scratch, dst []byte, dw, dh int, src []byte, sw, sh int) {
	for y := range dh {
		y0, wy := 6*(y/5)+y%5, sixFifths[y%5]
		if y0+1 >= sh {
			y0, wy = sh-2, 256
		}
		r0 := src[y0*sw : y0*sw+sw]
		r1 := src[(y0+1)*sw : (y0+1)*sw+sw]
		r1 = r1[:len(r0)]
		w0, w1 := uint64(256-wy), uint64(wy)
		out := dst[y*dw : y*dw+dw]
		d := 0
		if useAVX2 {
			// The rows run on to the end of src: the kernel's loads
			// reach past the columns it uses.
			d = downscaleRowBlocks(out, src[y0*sw:], src[(y0+1)*sw:], sw, w0, w1)
		}
		d += downscaleRow6to5(out[d:], r0[d/5*6:], r1[d/5*6:], w0, w1)
		for ; d < len(out); d++ {
			i, wx := sampleAt(d, 1.2, sw)
			a := int32(uint64(r0[i])*w0 + uint64(r1[i])*w1)
			b := int32(uint64(r0[i+1])*w0 + uint64(r1[i+1])*w1)
			out[d] = lerp16(a, b, int32(wx))
		}
	}
}

// downscaleRow6to5 writes the destination pixels of out from source rows r0
// and r1 (weights w0 and w1) in whole groups of 5, as far as 8-byte loads
// stay inside the rows, and returns how many it wrote. Kept out of
// downscale6to5, whose other state would spill the loop's registers.
func downscaleRow6to5(out, r0, r1 []byte, w0, w1 uint64) int {
	le := binary.LittleEndian
	const even = 0x00ff00ff00ff00ff
	groups := min(len(out)/5, (len(r0)-2)/6)
	for g := range groups {
		a, b := le.Uint64(r0[6*g:6*g+8]), le.Uint64(r1[6*g:6*g+8])
		// Vertical blends of columns 0, 2, 4 (e) and 1, 3, 5 (o) in
		// 16-bit lanes; they hold at most 255*256, so nothing carries
		// across.
		e := (a&even)*w0 + (b&even)*w1
		o := (a>>8&even)*w0 + (b>>8&even)*w1
		// The phases mirror each other (weights w and 256-w), so outputs 0
		// and 4, and 1 and 3, share their multiplies in the two 32-bit
		// halves of a uint64; each half holds lerp16's sum, under 2^25, so
		// nothing carries across.
		const lo, hi = 0xffff, 0xffff << 32
		c05 := e&lo | o&hi // columns 0 and 5
		c14 := o&lo | e&hi
		c23 := e>>16&lo | o<<16&hi
		const round = 1<<15 | 1<<47
		r04 := c05*230 + c14*26 + round
		r13 := c14*179 + c23*77 + round
		q := out[5*g : 5*g+5]
		q[0], q[4] = uint8(r04>>16), uint8(r04>>48)
		q[1], q[3] = uint8(r13>>16), uint8(r13>>48)
		q[2] = uint8((e>>16&lo + o>>16&lo + 256) >> 9) // lerp16 with weight 128
	}
	return 5 * max(groups, 0)
}

// downscaleRowBlocks runs downscaleRowAVX2 on rows r0 and r1 of a level sw
// wide, which may run on past the row, for as many whole blocks of 40
// outputs as fit in out, in the row and, with the kernel's loads, in r0 and
// r1. It returns how many outputs it wrote.
func downscaleRowBlocks(out, r0, r1 []byte, sw int, w0, w1 uint64) int {
	blocks := min(len(out)/40, sw/48, (min(len(r0), len(r1))-11)/48)
	if blocks <= 0 {
		return 0
	}
	_, _, _ = out[40*blocks-1], r0[48*blocks+10], r1[48*blocks+10]
	downscaleRowAVX2(&out[0], &r0[0], &r1[0], blocks, int(w0), int(w1))
	return 40 * blocks
}

// lerp16 interpolates horizontally between two vertical blends (8.8 fixed
// point) with an 8-bit weight, rounding like downscale.
func lerp16(a, b, w int32) uint8 {
	return uint8((a*(256-w) + b*w + 1<<15) >> 16)
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
