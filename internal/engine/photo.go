package engine

import (
	"image"
	"math"

	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/verify"
	"github.com/opencrs/opencrs/internal/vision"
)

// Photometric verification. A homography with many inliers proves that the
// query shows *part* of the target. Pictures that share painted regions with
// a target but differ elsewhere (variants of one artwork, a poster series
// with a common layout) pass that test. So the target's thumbnail is warped
// into the query with the homography and compared cell by cell with
// normalised cross-correlation: a true view agrees wherever the target is
// visible, a variant disagrees on whole regions.
const (
	thumbSide  = 64   // long side of the stored thumbnail, pixels
	thumbCells = 8    // cells per thumbnail side
	cellNCC    = 0.5  // a cell agrees above this correlation
	minCellVar = 16.0 // cells flatter than this (grey-level variance) say nothing
)

// thumbnail is the target image reduced for photometric verification.
func thumbnail(img *image.Gray) *image.Gray {
	t := vision.Resize(img, thumbSide)
	if t == img {
		// Resize returns small images as they are: copy so the target does
		// not keep the caller's buffer alive.
		c := image.NewGray(image.Rect(0, 0, t.Rect.Dx(), t.Rect.Dy()))
		for y := 0; y < c.Rect.Dy(); y++ {
			copy(c.Pix[y*c.Stride:(y+1)*c.Stride], t.Pix[t.PixOffset(t.Rect.Min.X, t.Rect.Min.Y+y):])
		}
		t = c
	}
	return t
}

// thumbCell is one cell of the thumbnail grid compared with the query
// under a homography: the mean grey level of the thumbnail over it and of
// the query at the same points, their correlation (corrOK is false when
// either side is too flat to judge), and whether the cell lies wholly in
// the frame.
type thumbCell struct {
	t, q   float64
	corr   float64
	corrOK bool
	vis    bool
}

// compareThumb samples the thumbnail and the query cell by cell through h
// (target feature coordinates, tw×th, to query pixels), once for both the
// photometric agreement and the tone check. ok is false when either image
// is missing.
func compareThumb(q *Query, thumb *image.Gray, tw, th float64, h [9]float64) (cells [thumbCells * thumbCells]thumbCell, ok bool) {
	if thumb == nil || q.image == nil {
		return cells, false
	}
	tbw, tbh := thumb.Rect.Dx(), thumb.Rect.Dy()
	// Query pixels per thumbnail pixel, from the projected area, decides
	// how much the query is smoothed before sampling.
	img, s := q.image, q.scale
	area := quadArea(h, tw, th) * s * s
	if per := math.Sqrt(area / float64(tbw*tbh)); per >= 2 {
		f := math.Floor(per)
		long := max(img.Rect.Dx(), img.Rect.Dy())
		img = vision.Resize(img, int(float64(long)/f))
		s *= float64(img.Rect.Dx()) / float64(q.image.Rect.Dx())
	}
	sx, sy := tw/float64(tbw), th/float64(tbh)
	cw, ch := float64(tbw)/thumbCells, float64(tbh)/thumbCells
	var a, b [64]float64
	for cy := range thumbCells {
		for cx := range thumbCells {
			c := &cells[cy*thumbCells+cx]
			n, kept := 0, 0
			var st, sq float64
			c.vis = true
			for v := int(float64(cy) * ch); v < int(float64(cy+1)*ch) && c.vis; v++ {
				for u := int(float64(cx) * cw); u < int(float64(cx+1)*cw); u++ {
					x, y := apply(h, (float64(u)+0.5)*sx, (float64(v)+0.5)*sy)
					val, in := sample(img, x*s, y*s)
					if !in {
						c.vis = false
						break
					}
					tv := float64(thumb.Pix[v*thumb.Stride+u])
					st += tv
					sq += val
					n++
					if kept < len(a) {
						a[kept], b[kept] = tv, val
						kept++
					}
				}
			}
			if !c.vis || n == 0 {
				c.vis = false
				continue
			}
			c.t, c.q = st/float64(n), sq/float64(n)
			if kept >= 4 {
				c.corr, c.corrOK = ncc(a[:kept], b[:kept])
			}
		}
	}
	return cells, true
}

// photoAgreement is the fraction of informative, visible cells whose
// pixels correlate with the query's (1 when none could be judged).
func photoAgreement(cells []thumbCell) float64 {
	agree, judged := 0, 0
	for i := range cells {
		if c := &cells[i]; c.vis && c.corrOK {
			judged++
			if c.corr >= cellNCC {
				agree++
			}
		}
	}
	if judged == 0 {
		return 1
	}
	return float64(agree) / float64(judged)
}

func apply(h [9]float64, x, y float64) (float64, float64) {
	w := h[6]*x + h[7]*y + h[8]
	return (h[0]*x + h[1]*y + h[2]) / w, (h[3]*x + h[4]*y + h[5]) / w
}

// quadArea is the area of the target rectangle projected by h.
func quadArea(h [9]float64, w, ht float64) float64 {
	var p [4][2]float64
	for i, c := range [4][2]float64{{0, 0}, {w, 0}, {w, ht}, {0, ht}} {
		p[i][0], p[i][1] = apply(h, c[0], c[1])
	}
	a := 0.0
	for i := range 4 {
		j := (i + 1) % 4
		a += p[i][0]*p[j][1] - p[j][0]*p[i][1]
	}
	return math.Abs(a) / 2
}

// sample reads img bilinearly at pixel-centre coordinates (x, y).
func sample(img *image.Gray, x, y float64) (float64, bool) {
	x -= 0.5
	y -= 0.5
	w, h := img.Rect.Dx(), img.Rect.Dy()
	if !(x >= 0 && y >= 0 && x < float64(w-1) && y < float64(h-1)) {
		return 0, false
	}
	x0, y0 := int(x), int(y)
	fx, fy := x-float64(x0), y-float64(y0)
	o := img.PixOffset(img.Rect.Min.X+x0, img.Rect.Min.Y+y0)
	p := img.Pix
	top := float64(p[o])*(1-fx) + float64(p[o+1])*fx
	bot := float64(p[o+img.Stride])*(1-fx) + float64(p[o+img.Stride+1])*fx
	return top*(1-fy) + bot*fy, true
}

// ncc is the normalised cross-correlation of a and b; ok is false when
// either is too flat to judge.
func ncc(a, b []float64) (float64, bool) {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa/n < minCellVar || sbb/n < minCellVar/4 {
		return 0, false
	}
	return sab / math.Sqrt(saa*sbb), true
}

// gridCell is the cell of the thumbnail grid (thumbCells a side) that
// holds target point (x, y) of a tw×th target.
func gridCell(x, y float32, tw, th float64) int {
	cx := min(max(int(float64(x)/tw*thumbCells), 0), thumbCells-1)
	cy := min(max(int(float64(y)/th*thumbCells), 0), thumbCells-1)
	return cy*thumbCells + cx
}

// inlierCells counts the inliers of r in each grid cell of target t.
func inlierCells(t *feature.Set, pairs []verify.Pair, r *verify.Result) (hit [thumbCells * thumbCells]uint16) {
	tw, th := float64(t.Width), float64(t.Height)
	for _, ii := range r.InlierIndices {
		k := &t.Keypoints[pairs[ii].T]
		hit[gridCell(k.X, k.Y, tw, th)]++
	}
	return hit
}

// visibleCoverage is the share of target grid cells that hold target
// features projecting inside the query frame and that hold an inlier
// (hit, from inlierCells). Plain coverage counts every cell, so a target
// half out of frame or with a blank sky looks poorly covered; this counts
// only cells where the query could show matches, so a picture that shares
// only part of a target (a variant of the same artwork) stands out.
func visibleCoverage(q, t *feature.Set, r *verify.Result, hit *[thumbCells * thumbCells]uint16) float64 {
	var feats [thumbCells * thumbCells]uint16
	tw, th := float64(t.Width), float64(t.Height)
	qw, qh := float64(q.Width), float64(q.Height)
	for i := range t.Keypoints {
		k := &t.Keypoints[i]
		x, y := apply(r.H, float64(k.X), float64(k.Y))
		if x >= 8 && y >= 8 && x < qw-8 && y < qh-8 {
			feats[gridCell(k.X, k.Y, tw, th)]++
		}
	}
	vis, covered := 0, 0
	for c := range feats {
		if feats[c] >= 3 {
			vis++
			if hit[c] > 0 {
				covered++
			}
		}
	}
	if vis == 0 {
		return 0
	}
	return float64(covered) / float64(vis)
}
