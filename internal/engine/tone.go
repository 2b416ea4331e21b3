package engine

import (
	"image"
	"math"

	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/verify"
)

// Tone check. A homography with many inliers proves that the query shows
// *part* of the target; a variant of the target (the same painting with a
// different helmet, cape and background) proves as much. What gives the
// variant away is the rest of the picture: where the target is light the
// variant is dark. So the target's thumbnail is compared with the query
// cell by cell through the homography, on mean grey level rather than
// texture, which also judges flat regions (a plain sky, a painted
// background) that correlation cannot. The lighting of the frame is not
// known in advance: it is fitted (query = gain·target + offset) on the
// cells that hold inliers, where target and query are known to agree, and
// grown to every cell consistent with it. If half or more of the visible
// target contradicts the fit, the frame shows something else that shares
// part of the target. Occluders and out-of-frame parts lower agreement too;
// the public set occludes up to 40% of a target, and its true views stay
// below 0.45 (docs/BENCHMARKS.md has the distributions).
const (
	toneGrid       = 8    // cells per target side
	toneTol        = 24.0 // grey levels (target units) a cell may differ from the fit
	toneIters      = 3    // rounds of growing the consensus
	toneMinInliers = 30   // below this the homography is too loose away from its inliers
	toneReject     = 0.5  // share of contradicting cells that rejects a candidate
	toneFlat       = 8.0  // grey-level spread below which the gain is not fitted
)

// toneCell is one cell of the target grid: the mean grey level of the
// thumbnail over it, the mean of the query under the homography and the
// number of inliers it holds. vis is false when part of it falls outside
// the frame.
type toneCell struct {
	t, q float64
	inl  int
	vis  bool
}

// toneCells samples the thumbnail and the query cell by cell.
func toneCells(q *Query, thumb *image.Gray, ts *feature.Set, pairs []verify.Pair, r *verify.Result) (cells [toneGrid * toneGrid]toneCell) {
	tw, th := float64(ts.Width), float64(ts.Height)
	tbw, tbh := thumb.Rect.Dx(), thumb.Rect.Dy()
	sx, sy := tw/float64(tbw), th/float64(tbh)
	cw, ch := float64(tbw)/toneGrid, float64(tbh)/toneGrid
	for _, ii := range r.InlierIndices {
		k := &ts.Keypoints[pairs[ii].T]
		cx := min(max(int(float64(k.X)/tw*toneGrid), 0), toneGrid-1)
		cy := min(max(int(float64(k.Y)/th*toneGrid), 0), toneGrid-1)
		cells[cy*toneGrid+cx].inl++
	}
	for cy := range toneGrid {
		for cx := range toneGrid {
			c := &cells[cy*toneGrid+cx]
			n := 0
			var st, sq float64
			c.vis = true
			for v := int(float64(cy) * ch); v < int(float64(cy+1)*ch) && c.vis; v++ {
				for u := int(float64(cx) * cw); u < int(float64(cx+1)*cw); u++ {
					x, y := apply(r.H, (float64(u)+0.5)*sx, (float64(v)+0.5)*sy)
					val, in := sample(q.image, x*q.scale, y*q.scale)
					if !in {
						c.vis = false
						break
					}
					st += float64(thumb.Pix[v*thumb.Stride+u])
					sq += val
					n++
				}
			}
			if n == 0 {
				c.vis = false
			}
			if c.vis {
				c.t, c.q = st/float64(n), sq/float64(n)
			}
		}
	}
	return cells
}

// toneModel maps a target grey level to the query's: q = gain·t + offset.
type toneModel struct{ gain, offset float64 }

// fitTone fits the model by weighted least squares over the cells for
// which use returns a positive weight. A set of cells of nearly one grey
// level says nothing about gain, which is then taken as 1.
func fitTone(cells []toneCell, use func(*toneCell) float64) (toneModel, bool) {
	var n, st, sq, stt, stq float64
	cnt := 0
	for i := range cells {
		w := use(&cells[i])
		if w <= 0 {
			continue
		}
		c := &cells[i]
		cnt++
		n += w
		st += w * c.t
		sq += w * c.q
		stt += w * c.t * c.t
		stq += w * c.t * c.q
	}
	if cnt < 3 {
		return toneModel{}, false
	}
	mt, mq := st/n, sq/n
	vt := stt/n - mt*mt
	if vt < toneFlat*toneFlat {
		return toneModel{1, mq - mt}, true
	}
	// Contrast changes of a print under real light stay within a few
	// times; a wilder gain is a fit to noise.
	gain := min(max((stq/n-mt*mq)/vt, 0.3), 3)
	return toneModel{gain, mq - gain*mt}, true
}

// agrees reports whether a visible cell is consistent with m. The
// residual is measured in target grey levels so that a dim or
// low-contrast frame is held to the same standard (down to half contrast,
// below which noise would dominate).
func (m toneModel) agrees(c *toneCell) bool {
	return math.Abs(c.q-(m.gain*c.t+m.offset))/max(m.gain, 0.5) <= toneTol
}

// toneDisagreement is the share of the visible cells that contradict the
// lighting fitted on the inlier cells; ok is false when there are too few
// inlier cells to fit it.
func toneDisagreement(cells []toneCell) (frac float64, ok bool) {
	m, ok := fitTone(cells, func(c *toneCell) float64 {
		if !c.vis || c.inl == 0 {
			return 0
		}
		return float64(min(c.inl, 4))
	})
	if !ok {
		return 0, false
	}
	consensus := func(c *toneCell) float64 {
		if c.vis && m.agrees(c) {
			return 1
		}
		return 0
	}
	for range toneIters {
		m2, ok := fitTone(cells, consensus)
		if !ok {
			break
		}
		m = m2
	}
	vis, agree := 0, 0
	for i := range cells {
		if cells[i].vis {
			vis++
			if m.agrees(&cells[i]) {
				agree++
			}
		}
	}
	if vis == 0 {
		return 0, false
	}
	return 1 - float64(agree)/float64(vis), true
}

// toneCheck returns the share of the visible target that contradicts the
// query, and whether the candidate has the evidence to be judged.
func toneCheck(q *Query, thumb *image.Gray, ts *feature.Set, pairs []verify.Pair, r *verify.Result) (float64, bool) {
	if thumb == nil || q.image == nil || r.Inliers < toneMinInliers {
		return 0, false
	}
	cells := toneCells(q, thumb, ts, pairs, r)
	return toneDisagreement(cells[:])
}
