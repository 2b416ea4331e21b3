package vision

import (
	"math"

	"github.com/opencrs/opencrs/internal/feature"
)

// boxSide is the side of the box that smooths each test point; 5x5 on a 31
// pixel patch is what the rBRIEF evaluation found robust to noise.
const boxSide = 5

// offsetTable holds, per angle bin and pattern point, the integral-image
// offset of the point's smoothing box relative to the keypoint, for one
// integral-image stride. Frames of one size reuse it across calls.
type offsetTable struct {
	stride int
	o      []int32
	// pairs holds, per angle bin and test, the offsets of the test's two
	// points (o of each), for comparePairsAVX2; lo and hi bound them.
	pairs  []int32
	lo, hi int
}

// offsets returns the table for stride from ts, building it if neither
// entry has that stride. Landscape and portrait frames of one camera give
// each level two strides, and a stream mixes them, so both tables are kept:
// rebuilding on every switch cost about 1% of the extraction.
func (e *Extractor) offsets(ts *[2]offsetTable, stride int) *offsetTable {
	// Tests switch the kernels off and on, which must not leave a table
	// without the pairs.
	ready := func(t *offsetTable) bool { return t.stride == stride && t.o != nil && (t.pairs != nil || !useAVX2) }
	if ready(&ts[0]) {
		return &ts[0]
	}
	ts[0], ts[1] = ts[1], ts[0]
	t := &ts[0]
	if ready(t) {
		return t
	}
	if t.o == nil {
		t.o = make([]int32, angleBins*numPoints)
	}
	const h = boxSide / 2
	for b := range angleBins {
		for k, pt := range e.rot[b] {
			t.o[b*numPoints+k] = int32((int(pt[1])-h)*stride + int(pt[0]) - h)
		}
	}
	if useAVX2 {
		if t.pairs == nil {
			t.pairs = make([]int32, angleBins*2*len(patternPairs))
		}
		t.lo, t.hi = 0, 0
		for b := range angleBins {
			o := t.o[b*numPoints : b*numPoints+numPoints]
			for k, pr := range patternPairs {
				for i, j := range pr {
					v := o[j]
					t.pairs[(b*len(patternPairs)+k)*2+i] = v
					t.lo, t.hi = min(t.lo, int(v)), max(t.hi, int(v))
				}
			}
		}
	}
	t.stride = stride
	return t
}

// integral fills ii with the integral image of lv over the rectangle r of
// ii indexes: ii[y*(w+1)+x] for x in [r.x0, r.x1] and y in [r.y0, r.y1] is
// the sum of the pixels left of column x and above row y from (r.x0, r.y0)
// on; the rest of ii is left as it was. Sums over any box inside r are
// exact, and the descriptor reads nothing else. It wraps in uint16 on
// purpose: a 5x5 box sums to at most 6375 < 65536, so box sums computed with
// wrapping arithmetic are exact while the table is half the size of uint32.
func integral(sc *scratch, lv *level, r iiRect) []uint16 {
	w, h := lv.w, lv.h
	s := w + 1
	n := (h + 1) * s
	if cap(sc.ii) < n {
		sc.ii = make([]uint16, n)
	}
	ii := sc.ii[:n]
	x0, x1 := r.x0, r.x1
	clear(ii[r.y0*s+x0 : r.y0*s+x1+1])
	if useAVX2 && x1-x0 >= 16 && r.y1 > r.y0 {
		return integralRows(ii, lv, r)
	}
	// Two rows per pass: each row's running sum is a chain of dependent
	// adds, and two independent chains keep the CPU busy where one left
	// it waiting.
	y := r.y0
	for ; y+2 <= r.y1; y += 2 {
		src0 := lv.pix[y*w+x0 : y*w+x1]
		src1 := lv.pix[(y+1)*w+x0 : (y+1)*w+x1]
		prev := ii[y*s+x0+1 : y*s+x1+1]
		cur0 := ii[(y+1)*s+x0 : (y+1)*s+x1+1]
		cur1 := ii[(y+2)*s+x0 : (y+2)*s+x1+1]
		cur0[0], cur1[0] = 0, 0
		cur0, cur1 = cur0[1:], cur1[1:]
		src1, prev = src1[:len(src0)], prev[:len(src0)]
		cur0, cur1 = cur0[:len(src0)], cur1[:len(src0)]
		var acc0, acc1 uint16
		for x, v := range src0 {
			acc0 += uint16(v)
			acc1 += uint16(src1[x])
			c := prev[x] + acc0
			cur0[x] = c
			cur1[x] = c + acc1
		}
	}
	for ; y < r.y1; y++ {
		src := lv.pix[y*w+x0 : y*w+x1]
		prev := ii[y*s+x0+1 : y*s+x1+1]
		cur := ii[(y+1)*s+x0 : (y+1)*s+x1+1]
		cur[0] = 0
		cur = cur[1:]
		cur = cur[:len(src)]
		prev = prev[:len(src)]
		var acc uint16
		for x, v := range src {
			acc += uint16(v)
			cur[x] = prev[x] + acc
		}
	}
	return ii
}

// integralRows is integral with integralAVX2 for the whole steps of 16
// pixels of every row; the rest of each row follows, row after row, from
// the running sum the kernel left.
func integralRows(ii []uint16, lv *level, r iiRect) []uint16 {
	w, s, x0, x1 := lv.w, lv.w+1, r.x0, r.x1
	blocks := (x1 - x0) / 16
	v := 16 * blocks
	_, _ = lv.pix[(r.y1-1)*w+x0+v-1], ii[r.y1*s+x0+v] // the last pixel and entry
	integralAVX2(&ii[r.y0*s+x0+1], &lv.pix[r.y0*w+x0], s, w, r.y1-r.y0, blocks)
	for y := r.y0; y < r.y1; y++ {
		src := lv.pix[y*w+x0 : y*w+x1]
		prev := ii[y*s+x0+1 : y*s+x1+1]
		cur := ii[(y+1)*s+x0 : (y+1)*s+x1+1]
		cur[0] = 0
		cur = cur[1:]
		prev, cur = prev[:len(src)], cur[:len(src)]
		acc := cur[v-1] - prev[v-1]
		for x := v; x < len(src); x++ {
			acc += uint16(src[x])
			cur[x] = prev[x] + acc
		}
	}
	return ii
}

// iiRect is a rectangle of integral-image indexes, bounds included.
type iiRect struct{ x0, y0, x1, y1 int }

// patchRect returns the integral-image indexes that orienting and
// describing kps read: those within 16 of a keypoint, 17 below and right
// (the orientation disc and the test boxes reach 15 pixels from the
// keypoint, their sums one index further). Keypoints keep border pixels
// from the edges, so the rectangle lies inside the level. Keypoints spread
// over the frame still often leave a fifth of a level out.
func patchRect(kps []corner) iiRect {
	r := iiRect{x0: math.MaxInt, y0: math.MaxInt}
	for _, k := range kps {
		r.x0, r.x1 = min(r.x0, int(k.x)), max(r.x1, int(k.x))
		r.y0, r.y1 = min(r.y0, int(k.y)), max(r.y1, int(k.y))
	}
	return iiRect{r.x0 - border, r.y0 - border, r.x1 + border + 1, r.y1 + border + 1}
}

// describeLevel orients and describes the keypoints picked on level l and
// appends them, mapped to level-0 coordinates, to set.
func (e *Extractor) describeLevel(sc *scratch, lv *level, kps []corner, l int, set *feature.Set) {
	r := patchRect(kps)
	ii := integral(sc, lv, r)
	stride := lv.w + 1
	for i := range kps {
		kps[i].angle = orientationII(ii, stride, int(kps[i].x), int(kps[i].y))
	}
	offs := e.offsets(&sc.offs[l], stride)
	row5 := boxSide * stride
	binScale := angleBins / (2 * math.Pi)
	var vals [numPoints]uint16
	var box []uint16
	if useAVX2 {
		box = boxImage(sc, ii, stride, r)
	}
	for _, k := range kps {
		bin := int(float64(k.angle)*binScale+0.5) % angleBins
		base := int(k.y)*stride + int(k.x)
		var desc feature.Descriptor
		if useAVX2 {
			desc = comparePairs(box, offs, bin, base)
		} else {
			boxSums(&vals, ii, offs.o[bin*numPoints:bin*numPoints+numPoints], base, row5)
			desc = compareBoxes(&vals)
		}
		set.Keypoints = append(set.Keypoints, feature.Keypoint{
			X:        float32((float64(k.x)+0.5)*lv.scale - 0.5),
			Y:        float32((float64(k.y)+0.5)*lv.scale - 0.5),
			Angle:    k.angle,
			Response: k.resp,
			Octave:   uint8(l),
			Scale:    float32(1 / lv.scale),
		})
		set.Descriptors = append(set.Descriptors, desc)
	}
}

// boxSums sets vals[j] to the sum of the 5x5 box at integral-image index
// base+o[j] (its top-left corner), row5 being five rows of ii.
func boxSums(vals *[numPoints]uint16, ii []uint16, o []int32, base, row5 int) {
	o = o[:numPoints]
	for j := range vals {
		q := base + int(o[j])
		// Slicing each row of corners to a constant length checks the
		// bounds of its two loads at once.
		t := ii[q : q+boxSide+1]
		b := ii[q+row5 : q+row5+boxSide+1]
		vals[j] = b[boxSide] - t[boxSide] - b[0] + t[0]
	}
}

// boxImage returns the sums of the 5x5 boxes whose top-left integral-image
// index lies in r, each at that index (the rest is left as it was): with
// AVX2 they cost a fraction of a load each, and a test point then needs one
// load instead of four.
func boxImage(sc *scratch, ii []uint16, s int, r iiRect) []uint16 {
	if cap(sc.box) < len(ii) {
		sc.box = make([]uint16, len(ii))
	}
	box := sc.box[:len(ii)]
	rows, cols := r.y1-boxSide-r.y0+1, r.x1-boxSide-r.x0+1
	if rows <= 0 || cols <= 0 {
		return box
	}
	i := r.y0*s + r.x0
	last := i + (rows-1+boxSide)*s + cols - 1 + boxSide // the last index read
	_ = ii[last]
	if cols < 16 || r.x0+cols+boxSide > s {
		for y := range rows {
			for x := range cols {
				q := i + y*s + x
				box[q] = ii[q+boxSide*s+boxSide] - ii[q+boxSide*s] - ii[q+boxSide] + ii[q]
			}
		}
		return box
	}
	boxImageAVX2(&box[i], &ii[i], s, rows, cols)
	return box
}

// comparePairs runs the 256 tests of angle bin bin on the box sums of
// boxImage around index base.
func comparePairs(box []uint16, t *offsetTable, bin, base int) feature.Descriptor {
	if base+t.lo < 0 || base+t.hi >= len(box) {
		panic("vision: test point outside the box image")
	}
	n := 2 * len(patternPairs)
	pairs := t.pairs[bin*n : bin*n+n]
	var desc feature.Descriptor
	comparePairsAVX2(&box[base], &pairs[0], (*[4]uint64)(&desc))
	return desc
}

// compareBoxes runs the 256 tests on the box sums; each descriptor word is
// built in a register rather than read and written back per bit. It is kept
// out of describeLevel, where register pressure spilled the loop's state.
//
//go:noinline
func compareBoxes(vals *[numPoints]uint16) feature.Descriptor {
	var desc feature.Descriptor
	for w := range desc {
		pairs := (*[64][2]uint8)(patternPairs[w*64 : w*64+64])
		var word uint64
		for j := range pairs {
			bit := uint64(int(vals[pairs[j][0]])-int(vals[pairs[j][1]])) >> 63
			word |= bit << j
		}
		desc[w] = word
	}
	return desc
}

// rotatedPattern rotates the pattern points into every angle bin, rounding
// to whole pixels. The rotation is the image's own (y down), matching the
// angle orientation measures, so a rotated image yields rotated tests.
func rotatedPattern() [angleBins][numPoints][2]int8 {
	var r [angleBins][numPoints][2]int8
	for b := range angleBins {
		a := float64(b) * 2 * math.Pi / angleBins
		sin, cos := math.Sincos(a)
		for k, p := range patternPoints {
			x, y := float64(p[0]), float64(p[1])
			r[b][k][0] = int8(math.Round(cos*x - sin*y))
			r[b][k][1] = int8(math.Round(sin*x + cos*y))
		}
	}
	return r
}
