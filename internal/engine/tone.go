package engine

import "math"

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
// grown to every cell consistent with it (the cells are compareThumb's,
// sampled once for this and the photometric agreement). If half or more of
// the visible target contradicts the fit, the frame shows something else
// that shares part of the target. Occluders and out-of-frame parts lower agreement too;
// the public set occludes up to 40% of a target, and its true views stay
// below 0.45 (docs/BENCHMARKS.md has the distributions).
const (
	toneTol        = 24.0 // grey levels (target units) a cell may differ from the fit
	toneIters      = 3    // rounds of growing the consensus
	toneMinInliers = 30   // below this the homography is too loose away from its inliers
	toneReject     = 0.5  // share of contradicting cells that rejects a candidate
	toneFlat       = 8.0  // grey-level spread below which the gain is not fitted
)

// toneModel maps a target grey level to the query's: q = gain·t + offset.
type toneModel struct{ gain, offset float64 }

// fitTone fits the model by weighted least squares over the cells for
// which weight returns a positive value. A set of cells of nearly one grey
// level says nothing about gain, which is then taken as 1.
func fitTone(cells []thumbCell, weight func(i int) float64) (toneModel, bool) {
	var n, st, sq, stt, stq float64
	cnt := 0
	for i := range cells {
		w := weight(i)
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
func (m toneModel) agrees(c *thumbCell) bool {
	return math.Abs(c.q-(m.gain*c.t+m.offset))/max(m.gain, 0.5) <= toneTol
}

// toneDisagreement is the share of the visible cells that contradict the
// lighting fitted on the cells holding inliers (inl, per cell); ok is
// false when there are too few such cells to fit it.
func toneDisagreement(cells []thumbCell, inl []uint16) (frac float64, ok bool) {
	m, ok := fitTone(cells, func(i int) float64 {
		if !cells[i].vis {
			return 0
		}
		return float64(min(inl[i], 4))
	})
	if !ok {
		return 0, false
	}
	consensus := func(i int) float64 {
		if cells[i].vis && m.agrees(&cells[i]) {
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
