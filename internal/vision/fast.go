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

// Byte-lane masks for the SWAR pre-test.
const (
	lanesHigh = 0x8080808080808080
	lanesLow7 = 0x7f7f7f7f7f7f7f7f
	lanesOne  = 0x0101010101010101
)

var fastCalls int

// detectFAST appends the FAST-9 corners with threshold t inside
// [x0,x1)x[y0,y1) of the w-wide image p and records their scores in score,
// which must be zero there (nonMaxSuppress restores that). Callers keep the
// rectangle at least 3 pixels from the image edge.
//
// Most pixels of a natural image fail FAST on the four compass pixels: an
// arc of 9 holds at least one of every two opposite circle pixels. That
// pre-test runs on 8 pixels at once in a uint64 (SWAR) on 7-bit halved
// values, a conservative superset of the exact test, which avoids both a
// mispredicted branch per pixel and most of the loads; survivors get the
// exact test.
func detectFAST(p []byte, w, x0, y0, x1, y1, t int, score []uint16, out []corner) []corner {
	if x1 <= x0 || y1 <= y0 {
		return out
	}
	var off [16]int
	for i, c := range circle {
		off[i] = c[1]*w + c[0]
	}
	// p > c+t implies p>>1 >= c>>1 + ceil(t/2); the dark side is the same
	// test on inverted values, and inverting a halved value is ^0x7f.
	half := uint64((t+1)/2) * lanesOne
	for y := y0; y < y1; y++ {
		row := y * w
		x := x0
		// Every 8-byte load of the group must lie inside p.
		for ; x+8 <= x1 && row+3*w+x+11 <= len(p); x += 8 {
			i := row + x
			c := binary.LittleEndian.Uint64(p[i:])
			hc := (c >> 1) & lanesLow7
			cb := satHalf(hc + half)
			cd := satHalf((hc ^ lanesLow7) + half)
			le := binary.LittleEndian
			b0, d0 := sides(le.Uint64(p[i-3*w:]), cb, cd)
			b8, d8 := sides(le.Uint64(p[i+3*w:]), cb, cd)
			b4, d4 := sides(le.Uint64(p[i+3:]), cb, cd)
			b12, d12 := sides(le.Uint64(p[i-3:]), cb, cd)
			b := (b0 | b8) & (b4 | b12) & lanesHigh
			d := (d0 | d8) & (d4 | d12) & lanesHigh
			if b|d == 0 {
				continue
			}
			// The diagonal pairs halve the survivors again.
			b2, d2 := sides(le.Uint64(p[i-2*w+2:]), cb, cd)
			b10, d10 := sides(le.Uint64(p[i+2*w-2:]), cb, cd)
			b6, d6 := sides(le.Uint64(p[i+2*w+2:]), cb, cd)
			b14, d14 := sides(le.Uint64(p[i-2*w-2:]), cb, cd)
			b &= (b2 | b10) & (b6 | b14)
			d &= (d2 | d10) & (d6 | d14)
			for m := b | d; m != 0; m &= m - 1 {
				fastCalls++
				j := i + trailingLane(m)
				if s := fastCorner(p, j, &off, t); s > 0 {
					score[j] = uint16(s)
					out = append(out, corner{x: int32(j - row), y: int32(y), score: int32(s)})
				}
			}
		}
		for ; x < x1; x++ {
			j := row + x
			if s := fastCorner(p, j, &off, t); s > 0 {
				score[j] = uint16(s)
				out = append(out, corner{x: int32(x), y: int32(y), score: int32(s)})
			}
		}
	}
	return out
}

// sides returns, in the high bit of each byte lane, whether the lane of
// word is brighter than the halved bright bound cb and darker than the
// halved, inverted dark bound cd (see detectFAST). Other bits are garbage.
func sides(word, cb, cd uint64) (bright, dark uint64) {
	q := (word >> 1) & lanesLow7
	return (q | lanesHigh) - cb, (q ^ lanesLow7 | lanesHigh) - cd
}

// satHalf clamps each byte lane to at most 0x80. A threshold lane of 0x80
// can never be reached by a 7-bit value, so the subtraction in the pre-test
// stays within its lane.
func satHalf(v uint64) uint64 {
	over := ((v & lanesHigh) >> 7) * 0xff
	return v&^over | over&lanesHigh
}

// trailingLane returns the index of the lowest byte lane whose high bit is
// set in m.
func trailingLane(m uint64) int { return bits.TrailingZeros64(m) >> 3 }

// fastCorner returns 0 when the pixel at i is not a FAST-9 corner at
// threshold t, and otherwise its score: the summed excess over t of the
// circle pixels on the corner's side, the score of the original FAST
// paper, which ranks like the largest-threshold score at a fraction of the
// cost.
func fastCorner(p []byte, i int, off *[16]int, t int) int {
	c := int(p[i])
	hi, lo := c+t, c-t
	// Branch-free: which side each circle pixel falls on is data noise to
	// the branch predictor.
	var bright, dark uint32
	sb, sd := 0, 0
	for k, o := range off {
		v := int(p[i+o])
		db, dd := v-hi, lo-v
		bright |= uint32(uint(-db)>>63) << k
		dark |= uint32(uint(-dd)>>63) << k
		sb += max(db, 0)
		sd += max(dd, 0)
	}
	switch {
	case hasArc9(bright):
		return sb
	case hasArc9(dark):
		return sd
	}
	return 0
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
func nonMaxSuppress(cs []corner, score []uint16, w int) []corner {
	for k := range cs {
		c := &cs[k]
		i := int(c.y)*w + int(c.x)
		s := uint16(c.score)
		if s <= score[i-w-1] || s <= score[i-w] || s <= score[i-w+1] || s <= score[i-1] ||
			s < score[i+1] || s < score[i+w-1] || s < score[i+w] || s < score[i+w+1] {
			c.score = -c.score
		}
	}
	out := cs[:0]
	for _, c := range cs {
		score[int(c.y)*w+int(c.x)] = 0
		if c.score > 0 {
			out = append(out, c)
		}
	}
	return out
}
