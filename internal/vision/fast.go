package vision

// circle is the 16-pixel Bresenham circle of radius 3, clockwise from the
// top, as FAST defines it.
var circle = [16][2]int{
	{0, -3}, {1, -3}, {2, -2}, {3, -1}, {3, 0}, {3, 1}, {2, 2}, {1, 3},
	{0, 3}, {-1, 3}, {-2, 2}, {-3, 1}, {-3, 0}, {-3, -1}, {-2, -2}, {-1, -3},
}

// fastTable classifies a circle pixel p against a centre c: entry p-c+255 is
// 1 when p is darker than c-t, 2 when brighter than c+t, else 0. Slicing it at
// 255-c gives a 256-entry table indexed by the raw pixel byte, so the hot loop
// needs no arithmetic or bounds checks per lookup.
type fastTable [511]uint8

func newFastTable(t int) *fastTable {
	var tab fastTable
	for i := range tab {
		d := i - 255
		switch {
		case d < -t:
			tab[i] = 1
		case d > t:
			tab[i] = 2
		}
	}
	return &tab
}

// detectFAST appends the FAST-9 corners with threshold t inside
// [x0,x1)x[y0,y1) of the w-wide image p and records their scores in score
// (which must be zero there). Callers keep the rectangle at least 3 pixels
// from the image edge. cand is scratch space; the grown buffer is returned.
func detectFAST(p []byte, w, x0, y0, x1, y1, t int, score []uint8, out []corner, cand []int32) ([]corner, []int32) {
	if x1 <= x0 || y1 <= y0 {
		return out, cand
	}
	tab := newFastTable(t)
	var off [16]int
	for i, c := range circle {
		off[i] = c[1]*w + c[0]
	}
	n := x1 - x0
	if cap(cand) < n+1 {
		cand = make([]int32, n+1)
	}
	cand = cand[:n+1]
	for y := y0; y < y1; y++ {
		// Pass 1, branch-free: an arc of 9 holds at least one pixel of
		// every pair of opposite circle pixels, so test the four compass
		// pixels and collect the survivors. A data-dependent branch per
		// pixel would mispredict on every textured stretch.
		up := p[(y-3)*w+x0 : (y-3)*w+x1]
		dn := p[(y+3)*w+x0 : (y+3)*w+x1]
		mid := p[y*w+x0-3 : y*w+x1+3]
		dn = dn[:len(up)]
		mid = mid[:len(up)+6]
		k := 0
		for j, u := range up {
			c := mid[j+3]
			tc := (*[256]uint8)(tab[255-int(c) : 511-int(c)])
			d := (tc[u] | tc[dn[j]]) & (tc[mid[j]] | tc[mid[j+6]])
			cand[k] = int32(j)
			k += int((d + 3) >> 2)
		}
		// Pass 2 on the few survivors: the remaining opposite pairs, then
		// the full arc test and the score.
		for _, j := range cand[:k] {
			i := y*w + x0 + int(j)
			c := int(p[i])
			tc := (*[256]uint8)(tab[255-c : 511-c])
			d := (tc[p[i+off[0]]] | tc[p[i+off[8]]]) & (tc[p[i+off[4]]] | tc[p[i+off[12]]])
			d &= tc[p[i+off[2]]] | tc[p[i+off[10]]]
			d &= tc[p[i+off[6]]] | tc[p[i+off[14]]]
			if d == 0 {
				continue
			}
			var dark, bright uint32
			for k, o := range off {
				v := uint32(tc[p[i+o]])
				dark |= (v & 1) << k
				bright |= (v >> 1) << k
			}
			if !hasArc9(bright) && !hasArc9(dark) {
				continue
			}
			s := fastScore(p, i, &off, c)
			score[i] = uint8(s)
			out = append(out, corner{x: int32(x0 + int(j)), y: int32(y), score: int32(s)})
		}
	}
	return out, cand
}

// fastScore returns the FAST score of a corner at i: the largest threshold
// at which it is still a corner (at most 254).
func fastScore(p []byte, i int, off *[16]int, c int) int {
	var v [25]int
	for k := range 16 {
		v[k] = int(p[i+off[k]]) - c
	}
	copy(v[16:], v[:9])
	// Best arc: max over the 16 arcs of the min (bright) or max (dark)
	// difference along the arc, built from doubling windows.
	var m2, n2 [24]int
	for k := range 24 {
		m2[k] = min(v[k], v[k+1])
		n2[k] = max(v[k], v[k+1])
	}
	var m4, n4 [22]int
	for k := range 22 {
		m4[k] = min(m2[k], m2[k+2])
		n4[k] = max(n2[k], n2[k+2])
	}
	best := 0
	for k := range 16 {
		lo := min(m4[k], m4[k+4], v[k+8])
		hi := max(n4[k], n4[k+4], v[k+8])
		best = max(best, lo, -hi)
	}
	return min(best-1, 254)
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
// ties go to the first in raster order so a plateau keeps exactly one.
func nonMaxSuppress(cs []corner, score []uint8, w int) []corner {
	out := cs[:0]
	for _, c := range cs {
		i := int(c.y)*w + int(c.x)
		s := score[i]
		if s <= score[i-w-1] || s <= score[i-w] || s <= score[i-w+1] || s <= score[i-1] ||
			s < score[i+1] || s < score[i+w-1] || s < score[i+w] || s < score[i+w+1] {
			continue
		}
		out = append(out, c)
	}
	return out
}
