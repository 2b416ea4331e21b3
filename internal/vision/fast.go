package vision

import (
	"encoding/binary"
	"math/bits"
)

// circle is the 16-pixel Bresenham circle of radius 3, clockwise from the
// top, as FAST defines it.
var circle = [16][2]int{
	{0, -3}, {1, -3}, {2, -2}, {3, -1}, {3, 0}, {3, 1}, {2, 2}, {1, 3},
	{0, 3}, {-1, 3}, {-2, 2}, {-3, 1}, {-3, 0}, {-3, -1}, {-2, -2}, {-1, -3},
}

// circleOffsets returns the index offsets of the circle's pixels in an
// image w wide.
func circleOffsets(w int) [16]int {
	var off [16]int
	for i, c := range circle {
		off[i] = c[1]*w + c[0]
	}
	return off
}

// Byte-lane masks for the SWAR pre-test.
const (
	lanesHigh = 0x8080808080808080
	lanesLow7 = 0x7f7f7f7f7f7f7f7f
	lanesOne  = 0x0101010101010101
)

// detectFAST appends the FAST-9 corners with threshold t inside
// [x0,x1)x[y0,y1) of the w-wide image p and records their scores in score,
// which must be zero there (nonMaxSuppress restores that). ph is p halved
// (see halvePixels), read by the pre-test. Callers keep the rectangle at
// least 3 pixels from the image edge.
//
// Most pixels of a natural image fail FAST on the four compass pixels: an
// arc of 9 holds at least one of every two opposite circle pixels. That
// pre-test, then the same test on the other six pairs where a compass test
// passed, runs on 8 pixels at once in a uint64 (SWAR) on 7-bit halved
// values, a conservative superset of the exact test, which avoids both a
// mispredicted branch per pixel and most of the loads; survivors get the
// exact test. The halved values come from a halved copy of the level, made
// once per level in a fraction of the time it saves: the pre-test loads
// every pixel 16 times. On an AVX2 machine, detectFASTAVX2 replaces all of
// this and ph is not read.
func detectFAST(p, ph []byte, w, x0, y0, x1, y1, t int, score []uint16, out []hit, fs *fastScratch) []hit {
	if x1 <= x0 || y1 <= y0 {
		return out
	}
	if useAVX2 {
		return detectFASTAVX2(p, w, x0, y0, x1, y1, t, score, out, fs)
	}
	if cap(fs.groups) < (x1-x0)/8+2 {
		fs.groups = make([]pretestGroup, (x1-x0)/8+2)
	}
	groups := fs.groups
	off := circleOffsets(w)
	// p > c+t implies p>>1 >= c>>1 + ceil(t/2); the dark side is the same
	// test on inverted values, and inverting a halved value is ^0x7f.
	half := uint64((t+1)/2) * lanesOne
	for y := y0; y < y1; y++ {
		row := y * w
		x := x0
		for x < x1 {
			// The row through the pre-test in one call. Its length is
			// rounded up to whole groups of 8 where the loads stay inside
			// p, and pixels past x1 are dropped; otherwise (near the end
			// of p) a ragged end is covered by one last group overlapping
			// the previous one, its repeated lanes skipped.
			skip, limit := 0, x1-x
			// Candidate indexes are 16 bits (side flags above them).
			n := min((x1-x+7)&^7, 1<<15)
			if row+3*w+x+n+3 > len(p) {
				n = min(x1-x, 1<<15) &^ 7
				if n == 0 && x1-x0 >= 8 {
					skip, x, n = x-(x1-8), x1-8, 8
				}
				limit = n
			}
			if n == 0 || row+3*w+x+n+3 > len(p) {
				break
			}
			i := row + x
			win := rowsAround(ph, i, n, &off)
			kept := fastPretest(&win, half, groups)
			out = fastCornersGroups(p, w, i, row, y, &off, t, kept, skip, limit, score, out)
			x += min(n, limit)
		}
		out = fastCornersTail(p, row, x, x1, y, &off, t, score, out)
	}
	return out
}

// detectFASTAVX2 is detectFAST with fastExactAVX2, which tests 32 pixels
// per step exactly and scores the corners, in place of the pre-test. Rows
// are rounded up to whole steps where the loads stay inside p (the extra
// pixels' corners are dropped); near the end of p, the whole steps that fit
// run and the rest go pixel by pixel.
func detectFASTAVX2(p []byte, w, x0, y0, x1, y1, t int, score []uint16, out []hit, fs *fastScratch) []hit {
	if cap(fs.cand) < x1-x0+32 {
		fs.cand = make([]int32, x1-x0+32)
	}
	cand := fs.cand[:cap(fs.cand)]
	off := circleOffsets(w)
	for y := y0; y < y1; y++ {
		row := y * w
		x := x0
		for x < x1 {
			limit := x1 - x
			// Candidate indexes are 16 bits (side flags above them).
			n := min((limit+31)&^31, 1<<15)
			if row+x+3*w+n >= len(p) {
				n = min(limit, 1<<15) &^ 31
				limit = n
			}
			if n == 0 {
				break
			}
			i := row + x
			for _, cj := range fastExact(p, w, i, n, t, cand) {
				jj, s := int(cj&0xffff), cj>>16
				if jj >= limit {
					break
				}
				score[i+jj] = uint16(s)
				out = append(out, hit{x: int32(x + jj), y: int32(y), score: s})
			}
			x += min(n, limit)
		}
		out = fastCornersTail(p, row, x, x1, y, &off, t, score, out)
	}
	return out
}

// fastCornersTail tests the pixels [x, x1) of the row starting at index
// row one at a time: the ragged ends the row-at-once paths leave.
func fastCornersTail(p []byte, row, x, x1, y int, off *[16]int, t int, score []uint16, out []hit) []hit {
	for ; x < x1; x++ {
		k := row + x
		if s := fastCorner(p, k, off, t, sideBright|sideDark); s > 0 {
			score[k] = uint16(s)
			out = append(out, hit{x: int32(x), y: int32(y), score: int32(s)})
		}
	}
	return out
}

// fastExact is fastExactAVX2 on the n pixels from p[i] on (rows w apart),
// with the bounds of its loads and of cand checked.
func fastExact(p []byte, w, i, n, t int, cand []int32) []int32 {
	if n <= 0 || n%32 != 0 || w < 1 {
		panic("vision: fastExact needs whole steps of 32")
	}
	_, _ = p[i-3*w-1], p[i+3*w+n] // the first and last pixels read
	cand = cand[:n]
	return cand[:fastExactAVX2(&p[i], w, n, t, &cand[0])]
}

// fastScratch is detectFAST's working memory, reused across calls.
type fastScratch struct {
	cand   []int32        // corners of one row of fastExactAVX2
	groups []pretestGroup // groups of 8 pixels of one row in the pre-test
}

// hit is a FAST corner before non-maximum suppression; kept small because
// a frame has tens of thousands.
type hit struct {
	x, y, score int32
}

// pixelRows are n pixels of a row (element 0) and, at the same indexes,
// the pixels at each of the 16 circle positions around them (element 1+k
// for circle pixel k).
type pixelRows [17][]byte

// rowsAround returns the n pixels of p from i on and those at each circle
// offset from them.
func rowsAround(p []byte, i, n int, off *[16]int) pixelRows {
	var win pixelRows
	win[0] = p[i : i+n]
	for k := range 16 {
		win[1+k] = p[i+off[k] : i+off[k]+n]
	}
	return win
}

// pretestGroup is a group of 8 pixels in the pre-test: the high bit of
// each byte lane of b (d) is set while the pixel may be a bright (dark)
// corner; x is the group's first index.
type pretestGroup struct {
	b, d uint64
	x    int32
}

// fastPretest runs the SWAR pre-test on the halved pixels of win[0] and
// returns the groups of 8 with survivors, in groups, which has room for
// len(win[0])/8+1. len(win[0]) is a multiple of 8.
//
// Per lane, with q a circle pixel and hc the centre, both halved to 7 bits,
// and sb = hc+half the bright bound: lanes with sb >= 128 cannot pass, and
// for the others q+(128-sb) has its high bit set exactly when q >= sb, with
// no carry out of the lane. The dark side compares inverted values the same
// way, (127-q)+(128-sd) = 255-(q+sd): with sd < 128 that is the complement
// of q+sd, whose lanes cannot carry. The loops therefore collect the dark
// failures uncomplemented, a pair failing where the high bits of both sums
// are set, and complement once at the end: the compiler turned each
// (255-sd)-q into three instructions and spilled for it.
//
// About 30% of the groups pass the compass pairs, and which ones is
// unpredictable: the first pass lists them without a branch, and the second
// tests the other pairs on the listed groups only and keeps, again without
// a branch, the 60% of them with survivors, so neither mispredicts per
// group.
func fastPretest(win *pixelRows, half uint64, groups []pretestGroup) []pretestGroup {
	ng := pretestCompass(win, half, groups)
	return pretestOthers(win, half, groups[:ng])
}

// pretestCompass tests the compass pairs (circle 0 and 8, 4 and 12) and
// lists the groups where some lane passes in groups, returning how many.
// It is kept apart from pretestOthers so that its loop keeps its few values
// in registers.
func pretestCompass(win *pixelRows, half uint64, groups []pretestGroup) int {
	n := len(win[0])
	// Circle 12, the centre and circle 4 lie on one row, at -3, 0 and +3:
	// one slice from circle 12 on serves all three (the row extends past n
	// within p), which leaves the loop three row pointers instead of five;
	// with five, the compiler spilled them to the stack.
	mid, c0, c8 := win[13][:n+6:n+6], win[1][:n], win[9][:n]
	le := binary.LittleEndian
	ng := 0
	for x := 0; x+8 <= n; x += 8 {
		m := mid[x : x+14 : x+14]
		hc := le.Uint64(m[3:11])
		sb := hc + half
		sd := (hc ^ lanesLow7) + half
		nb := lanesHigh - sb&lanesLow7
		sd7 := sd & lanesLow7
		q0, q8 := le.Uint64(c0[x:x+8]), le.Uint64(c8[x:x+8])
		q4, q12 := le.Uint64(m[6:14]), le.Uint64(m[0:8])
		b := ((q0 + nb) | (q8 + nb)) & ((q4 + nb) | (q12 + nb)) &^ sb
		d := ^((q0+sd7)&(q8+sd7) | (q4+sd7)&(q12+sd7) | sd)
		// Always written, kept by counting it.
		groups[ng] = pretestGroup{b: b, d: d, x: int32(x)}
		ng += b2i((b|d)&lanesHigh != 0)
	}
	return ng
}

// pretestOthers tests the six other pairs on the listed groups and returns
// those with survivors, compacted in place.
func pretestOthers(win *pixelRows, half uint64, groups []pretestGroup) []pretestGroup {
	n := len(win[0])
	// Each of the six rows the remaining circle positions touch is one
	// slice, starting at its leftmost circle position: 15, 0 and 1 are up3
	// at +0, +1 and +2; 14 and 2 are up2 at +0 and +4; 13 and 3 are up1 at
	// +0 and +6; 11 and 5 are dn1 at +0 and +6; 10 and 6 are dn2 at +0 and
	// +4; 9, 8 and 7 are dn3 at +0, +1 and +2. The rows extend past n
	// within p (the rows below are at least n long), and full slice
	// expressions fix each capacity so that the loop condition proves the
	// 8-byte loads in bounds.
	ctr := win[0][:n]
	up3, dn3 := win[16][:n+2:n+2], win[10][:n+2:n+2]
	up2, dn2 := win[15][:n+4:n+4], win[11][:n+4:n+4]
	up1, dn1 := win[14][:n+6:n+6], win[12][:n+6:n+6]
	le := binary.LittleEndian
	nk := 0
	for _, g := range groups {
		x := int(g.x)
		if x+8 > n {
			break // unreachable: pretestCompass lists groups inside the row
		}
		hc := le.Uint64(ctr[x : x+8])
		nb := lanesHigh - (hc+half)&lanesLow7
		sd7 := ((hc ^ lanesLow7) + half) & lanesLow7
		// The diagonal and the odd pairs. On real frames at the default
		// threshold, the even pairs let about 6% of the pixels through and
		// all eight pairs 3.7%, against 1.7% corners: the odd pairs spare
		// more exact tests than they cost. fb and fd collect the lanes
		// failing a pair.
		u3, d3 := up3[x:x+10:x+10], dn3[x:x+10:x+10]
		u, v := up2[x:x+12:x+12], dn2[x:x+12:x+12]
		var fb, fd uint64
		qa, qb := le.Uint64(u[4:12]), le.Uint64(v[0:8]) // circle 2, 10
		fb |= ^((qa + nb) | (qb + nb))
		fd |= (qa + sd7) & (qb + sd7)
		qa, qb = le.Uint64(v[4:12]), le.Uint64(u[0:8]) // 6, 14
		fb |= ^((qa + nb) | (qb + nb))
		fd |= (qa + sd7) & (qb + sd7)
		qa, qb = le.Uint64(u3[2:10]), le.Uint64(d3[0:8]) // 1, 9
		fb |= ^((qa + nb) | (qb + nb))
		fd |= (qa + sd7) & (qb + sd7)
		qa, qb = le.Uint64(d3[2:10]), le.Uint64(u3[0:8]) // 7, 15
		fb |= ^((qa + nb) | (qb + nb))
		fd |= (qa + sd7) & (qb + sd7)
		r, s := up1[x:x+14:x+14], dn1[x:x+14:x+14]
		qa, qb = le.Uint64(r[6:14]), le.Uint64(s[0:8]) // 3, 11
		fb |= ^((qa + nb) | (qb + nb))
		fd |= (qa + sd7) & (qb + sd7)
		qa, qb = le.Uint64(s[6:14]), le.Uint64(r[0:8]) // 5, 13
		fb |= ^((qa + nb) | (qb + nb))
		fd |= (qa + sd7) & (qb + sd7)
		b := g.b &^ fb & lanesHigh
		d := g.d &^ fd & lanesHigh
		// Always written, kept by counting it.
		groups[nk] = pretestGroup{b: b, d: d, x: int32(x)}
		nk += b2i((b | d) != 0)
	}
	return groups[:nk]
}

// halvePixels sets dst[i] = p[i]>>1, the 7-bit values fastPretest reads.
func halvePixels(dst, p []byte) {
	dst = dst[:len(p)]
	le := binary.LittleEndian
	i := 0
	for ; i+8 <= len(p); i += 8 {
		le.PutUint64(dst[i:i+8], le.Uint64(p[i:i+8])>>1&lanesLow7)
	}
	for ; i < len(p); i++ {
		dst[i] = p[i] >> 1
	}
}

// Sides of a FAST corner: circle brighter or darker than the centre.
const (
	sideBright = 1
	sideDark   = 2
)

// fastCorner returns 0 when the pixel at i is not a FAST-9 corner at
// threshold t on one of the given sides, and otherwise its score: the
// summed excess over t of the circle pixels on the corner's side, the score
// of the original FAST paper, which ranks like the largest-threshold score
// at a fraction of the cost. The 16 comparisons run as byte lanes of two
// uint64s, which avoids both sixteen unpredictable branches and most of the
// arithmetic.
func fastCorner(p []byte, i int, off *[16]int, t, sides int) int {
	c := int(p[i])
	a := uint64(p[i+off[0]]) | uint64(p[i+off[1]])<<8 | uint64(p[i+off[2]])<<16 | uint64(p[i+off[3]])<<24 |
		uint64(p[i+off[4]])<<32 | uint64(p[i+off[5]])<<40 | uint64(p[i+off[6]])<<48 | uint64(p[i+off[7]])<<56
	b := uint64(p[i+off[8]]) | uint64(p[i+off[9]])<<8 | uint64(p[i+off[10]])<<16 | uint64(p[i+off[11]])<<24 |
		uint64(p[i+off[12]])<<32 | uint64(p[i+off[13]])<<40 | uint64(p[i+off[14]])<<48 | uint64(p[i+off[15]])<<56
	if hi := c + t + 1; sides&sideBright != 0 && hi <= 255 {
		h := uint64(hi) * lanesOne
		ga, gb := geLanes(a, h), geLanes(b, h)
		if hasArc9(laneMask(ga) | laneMask(gb)<<8) {
			// Excess over c+t is one more per pixel than over hi.
			return laneDiffSum(a, h, ga) + laneDiffSum(b, h, gb) + bits.OnesCount64(ga) + bits.OnesCount64(gb)
		}
	}
	if lo := c - t - 1; sides&sideDark != 0 && lo >= 0 {
		l := uint64(lo) * lanesOne
		ga, gb := geLanes(l, a), geLanes(l, b)
		if hasArc9(laneMask(ga) | laneMask(gb)<<8) {
			return laneDiffSum(l, a, ga) + laneDiffSum(l, b, gb) + bits.OnesCount64(ga) + bits.OnesCount64(gb)
		}
	}
	return 0
}

// fastCornersGroups gives the survivors of fastPretest, in groups of pixels
// from p[i] on (row offset row, row y), whose index lies in [skip, limit)
// the exact test, records the corners' scores and appends them to out.
// Almost all survivors have one side left, which fastScoreRows tests; the
// few with both, and those near the ends of p, where a row load would
// overrun, go to fastCorner. A group's survivors are taken one set bit at a
// time; the loop exits mispredict, but once per group rather than once per
// group of the row.
func fastCornersGroups(p []byte, w, i, row, y int, off *[16]int, t int, groups []pretestGroup, skip, limit int, score []uint16, out []hit) []hit {
	for _, g := range groups {
		for m := g.b | g.d; m != 0; m &= m - 1 {
			bit := bits.TrailingZeros64(m)
			jj := int(g.x) + bit>>3
			if jj < skip || jj >= limit {
				continue
			}
			k, sides := i+jj, int(g.b>>bit&1|(g.d>>bit&1)<<1)
			var s int
			if sides == sideBright|sideDark || k < 3*w+3 || k+3*w+7 > len(p) {
				s = fastCorner(p, k, off, t, sides)
			} else {
				s = fastScoreRows(p, w, k, t, sides)
			}
			score[k] = uint16(s) // stays zero for a non-corner
			out = append(out, hit{x: int32(k - row), y: int32(y), score: int32(s)})
			out = out[:len(out)-1+b2i(s > 0)]
		}
	}
	return out
}

// fastScoreRows is fastCorner for one side of a pixel k at least 3 rows
// and 7 bytes from the ends of p, with the circle gathered by seven 8-byte
// row loads instead of sixteen byte loads. The bytes land in a permuted
// order (see arcPermuted), which only the arc test cares about; the score
// is a sum.
func fastScoreRows(p []byte, w, k, t, side int) int {
	le := binary.LittleEndian
	j := k - 3*w - 1
	rm3 := le.Uint64(p[j : j+8]) // circle 15, 0, 1
	j += w - 1
	rm2 := le.Uint64(p[j : j+8]) // 14 at byte 0, 2 at byte 4
	j += w - 1
	rm1 := le.Uint64(p[j : j+8]) // 13 at byte 0, 3 at byte 6
	j += w
	r0 := le.Uint64(p[j : j+8]) // 12 at byte 0, centre at 3, 4 at 6
	j += w
	r1 := le.Uint64(p[j : j+8]) // 11 at byte 0, 5 at byte 6
	j += w + 1
	r2 := le.Uint64(p[j : j+8]) // 10 at byte 0, 6 at byte 4
	j += w + 1
	r3 := le.Uint64(p[j : j+8]) // 9, 8, 7
	const b04, b06, b0 = 0x000000ff000000ff, 0x00ff0000000000ff, 0xff
	// The dark side is the bright side of the inverted pixels, with the
	// same excess: (255-q) - (255-c+t) = c-t-q.
	flip := -uint64(side >> 1) // all ones for the dark side
	a := (rm3&0xffffff | (rm2&b04)<<24 | (r3&0xffffff)<<32) ^ flip
	b := (r2&b04 | (rm1&b06)<<8 | (r0&b0)<<16 | (r1&b0)<<24 | (r0>>8)&(b0<<40) | r1&(b0<<48)) ^ flip
	hi := int((r0^flip)>>24&0xff) + t + 1
	// Which candidates are corners is unpredictable: nothing below
	// branches on it. With hi > 255 no pixel can pass; clamped, the arc
	// test is then merely ignored.
	valid := b2i(hi <= 255)
	hi = min(hi, 255)
	h := uint64(hi) * lanesOne
	ga, gb := geLanes(a, h), geLanes(b, h)
	m := laneMask(ga) | laneMask(gb)<<8
	arc := int(arcPermuted[m>>6]>>(m&63)&1) & valid
	// The score sums q-(hi-1) over the passing pixels: their sum, from
	// 16-bit lanes that cannot overflow (at most 4*255), less (hi-1) per
	// pixel, their count summed in byte lanes.
	ga, gb = ga>>7, gb>>7
	sa, sb := a&(ga*0xff), b&(gb*0xff)
	const even = 0x00ff00ff00ff00ff
	sum := sa&even + sa>>8&even + sb&even + sb>>8&even
	n := int((ga + gb) * lanesOne >> 56)
	return -arc & (int(sum*0x0001000100010001>>48) - (hi-1)*n)
}

// rowsOrder is the circle position of each bit of fastScoreRows' mask.
var rowsOrder = [16]int{15, 0, 1, 14, 9, 8, 7, 2, 10, 13, 12, 11, 6, 4, 5, 3}

// arcPermuted is hasArc9 as a bit table over masks in rowsOrder.
var arcPermuted = func() *[1 << 10]uint64 {
	var tab [1 << 10]uint64
	for m := range 1 << 16 {
		var circ uint32
		for bit, pos := range rowsOrder {
			circ |= uint32(m>>bit&1) << pos
		}
		if hasArc9(circ) {
			tab[m>>6] |= 1 << (m & 63)
		}
	}
	return &tab
}()

// geLanes returns the high bit of each byte lane set where x >= y.
func geLanes(x, y uint64) uint64 {
	// The difference of the low 7 bits cannot borrow across lanes; the
	// high bits decide where they differ.
	d := (x | lanesHigh) - (y & lanesLow7)
	return (x&^y | ^(x^y)&d) & lanesHigh
}

// laneMask packs the high bits of the 8 byte lanes into 8 bits, lane 0
// lowest. The multiplier moves bit 8k+7 to bit 56+k with no two partial
// products colliding, so no carries disturb the result.
func laneMask(m uint64) uint32 { return uint32(m * 0x0002040810204081 >> 56) }

// laneDiffSum sums x-y over the byte lanes whose high bit is set in g,
// where x >= y.
func laneDiffSum(x, y, g uint64) int {
	// Lane-wise subtraction that cannot borrow across lanes.
	d := ((x | lanesHigh) - (y & lanesLow7)) ^ (^(x ^ y) & lanesHigh)
	d &= (g >> 7) * 0xff
	const even = 0x00ff00ff00ff00ff
	s := d&even + (d>>8)&even
	return int(s * 0x0001000100010001 >> 48)
}

// hasArc9 reports whether the 16-bit circular mask has 9 contiguous ones.
func hasArc9(m uint32) bool {
	m |= m << 16
	r := m & (m >> 1)
	r &= r >> 2
	r &= r >> 4
	r &= m >> 8
	return r&0xffff != 0
}

// nonMaxSuppress keeps the corners whose score beats their 8 neighbours';
// ties go to the first in raster order so a plateau keeps exactly one. It
// then zeroes the scores of all corners, so the map is clean for the next
// level without clearing every pixel.
func nonMaxSuppress(cs []hit, score []uint16, w int) []hit {
	for k := range cs {
		c := &cs[k]
		i := int(c.y)*w + int(c.x)
		up, dn := score[i-w-1:i-w+2], score[i+w-1:i+w+2]
		// Branch-free maxima: which neighbour wins is unpredictable.
		before := max(up[0], up[1], up[2], score[i-1])
		after := max(dn[0], dn[1], dn[2], score[i+1])
		s := uint16(c.score)
		lose := int32(b2i(s <= before) | b2i(s < after))
		c.score = c.score ^ -lose + lose // negated when it loses
	}
	// Compacting without a branch: whether a corner survives is as
	// unpredictable as which neighbour wins.
	n := 0
	for k := range cs {
		c := cs[k]
		score[int(c.y)*w+int(c.x)] = 0
		cs[n] = c
		n += int(uint32(-c.score) >> 31)
	}
	return cs[:n]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
