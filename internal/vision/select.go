package vision

import (
	"cmp"
	"slices"
)

// grid is the bucketing grid over a level's interior.
type grid struct {
	x0, y0, iw, ih int // interior origin and size
	nx, ny         int
}

func newGrid(lv *level, cell int) grid {
	g := grid{x0: border, y0: border, iw: lv.w - 2*border, ih: lv.h - 2*border}
	// Round the cell count so edge cells are never slivers.
	g.nx = max(1, (g.iw+cell/2)/cell)
	g.ny = max(1, (g.ih+cell/2)/cell)
	return g
}

func (g *grid) cellOf(x, y int32) int32 {
	cx := (int(x) - g.x0) * g.nx / g.iw
	cy := (int(y) - g.y0) * g.ny / g.ih
	return int32(cy*g.nx + cx)
}

// bounds returns the pixel rectangle of cell (cx, cy).
func (g *grid) bounds(cx, cy int) (x0, y0, x1, y1 int) {
	x0 = g.x0 + (cx*g.iw+g.nx-1)/g.nx
	x1 = g.x0 + ((cx+1)*g.iw+g.nx-1)/g.nx
	y0 = g.y0 + (cy*g.ih+g.ny-1)/g.ny
	y1 = g.y0 + ((cy+1)*g.ih+g.ny-1)/g.ny
	return
}

// detect finds up to want keypoints on lv, spread over the level: FAST at
// the main threshold everywhere and at the fallback threshold in cells that
// found nothing, non-maximum suppression, a per-cell shortlist by FAST score,
// Harris ranking of the shortlist and round-robin selection over cells. It
// returns corners with resp set, in sc.picked.
func (e *Extractor) detect(sc *scratch, lv *level, want int) []corner {
	if want <= 0 {
		return nil
	}
	w, h := lv.w, lv.h
	if len(sc.score) < w*h {
		// Zeroed on allocation; nonMaxSuppress keeps it zero after use.
		sc.score = make([]uint16, w*h)
	}
	score := sc.score[:w*h]
	g := newGrid(lv, e.cfg.CellSize)
	ncell := g.nx * g.ny

	var half []byte // the AVX2 test reads the pixels themselves
	if !useAVX2 {
		if cap(sc.half) < w*h {
			sc.half = make([]byte, w*h)
		}
		half = sc.half[:w*h]
		halvePixels(half, lv.pix)
	}
	hits := detectFAST(lv.pix, half, w, border, border, w-border, h-border, e.cfg.FastThreshold, score, sc.hits[:0], &sc.fast)
	cnt := sc.cellCount(ncell)
	for _, c := range hits {
		cnt[g.cellOf(c.x, c.y)]++
	}
	if e.cfg.MinThreshold < e.cfg.FastThreshold && want >= ncell {
		// Flat cells (sky, walls, a dim poster) still deserve a few corners:
		// a target may occupy only such a region of the frame. When the
		// level's budget is below one corner per cell, the first
		// round-robin round is cut by response and weak fallback corners
		// would lose to the textured cells anyway, so the rescan is skipped.
		// Runs of empty cells along a row of cells are scanned as one
		// rectangle: fewer, longer rows for the pre-test, and each cell's
		// corners still come in raster order.
		for cy := range g.ny {
			row := cnt[cy*g.nx : cy*g.nx+g.nx]
			for cx := 0; cx < len(row); {
				if row[cx] != 0 {
					cx++
					continue
				}
				end := cx + 1
				for end < len(row) && row[end] == 0 {
					end++
				}
				x0, y0, _, y1 := g.bounds(cx, cy)
				_, _, x1, _ := g.bounds(end-1, cy)
				hits = detectFAST(lv.pix, half, w, x0, y0, x1, y1, e.cfg.MinThreshold, score, hits, &sc.fast)
				cx = end
			}
		}
	}
	sc.hits = hits
	hits = nonMaxSuppress(hits, score, w)
	if len(hits) == 0 {
		return nil
	}
	if cap(sc.corners) < len(hits) {
		sc.corners = make([]corner, len(hits))
	}
	cs := sc.corners[:len(hits)]
	for i, c := range hits {
		cs[i] = corner{x: c.x, y: c.y, score: c.score, cell: g.cellOf(c.x, c.y)}
	}

	// Group by cell (counting sort), best FAST score first within a cell.
	clear(cnt)
	for _, c := range cs {
		cnt[c.cell]++
	}
	if cap(sc.start) < ncell+1 {
		sc.start = make([]int32, ncell+1)
	}
	start := sc.start[:ncell+1]
	for i := range ncell {
		start[i+1] = start[i] + cnt[i]
	}
	if cap(sc.sorted) < len(cs) {
		sc.sorted = make([]corner, len(cs))
	}
	sorted := sc.sorted[:len(cs)]
	copy(cnt, start[:ncell])
	for _, c := range cs {
		sorted[cnt[c.cell]] = c
		cnt[c.cell]++
	}
	nonEmpty := 0
	for i := range ncell {
		if start[i+1] > start[i] {
			nonEmpty++
		}
	}
	// Shortlist per cell: enough that the Harris ranking has a choice (about
	// twice the budget overall, as ORB does) without scoring every corner.
	short := max(2, (2*want+nonEmpty-1)/nonEmpty)
	for i := range ncell {
		cell := sorted[start[i]:start[i+1]]
		cell = topByScore(cell, short, &sc.top)
		for j := range cell {
			cell[j].resp = harris(lv.pix, w, int(cell[j].x), int(cell[j].y))
		}
		slices.SortFunc(cell, func(a, b corner) int { return cmp.Compare(b.resp, a.resp) })
		cnt[i] = int32(len(cell)) // shortlist length
	}

	// Round-robin: every cell's best before any cell's second best, so a
	// small target region in a cluttered frame keeps its share. Within a
	// round, stronger responses go first when the budget runs out.
	picked := sc.picked[:0]
	for r := int32(0); len(picked) < want; r++ {
		round := sc.round[:0]
		for i := range ncell {
			if r < cnt[i] {
				round = append(round, sorted[start[i]+r])
			}
		}
		sc.round = round
		if len(round) == 0 {
			break
		}
		if len(picked)+len(round) > want {
			slices.SortFunc(round, func(a, b corner) int { return cmp.Compare(b.resp, a.resp) })
			round = round[:want-len(picked)]
		}
		picked = append(picked, round...)
	}
	sc.picked = picked
	return picked
}

// topByScore moves the k best corners of cell by FAST score to its front,
// best first, ties in their original (raster) order, and returns them. Only
// a short prefix is wanted, so a bounded insertion beats sorting the cell.
func topByScore(cell []corner, k int, buf *[]corner) []corner {
	if len(cell) <= 1 {
		return cell
	}
	if k >= len(cell) {
		slices.SortFunc(cell, func(a, b corner) int { return cmp.Compare(b.score, a.score) })
		return cell
	}
	top := (*buf)[:0]
	for _, c := range cell {
		n := len(top)
		if n == k {
			if c.score <= top[n-1].score {
				continue
			}
			n--
		} else {
			top = append(top, c)
		}
		for n > 0 && top[n-1].score < c.score {
			top[n] = top[n-1]
			n--
		}
		top[n] = c
	}
	*buf = top
	return cell[:copy(cell, top)]
}

func (sc *scratch) cellCount(n int) []int32 {
	if cap(sc.cellCnt) < n {
		sc.cellCnt = make([]int32, n)
	}
	c := sc.cellCnt[:n]
	clear(c)
	return c
}
