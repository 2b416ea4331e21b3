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

// photoAgreement returns the fraction of informative, visible thumbnail
// cells whose pixels correlate with the query's under h (target feature
// coordinates, tw×th, to query pixels), and how many cells were judged.
func photoAgreement(q *Query, thumb *image.Gray, tw, th float64, h [9]float64) (frac float64, judged int) {
	if thumb == nil || q.image == nil {
		return 1, 0
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
	agree := 0
	var a, b [64]float64
	for cy := 0; cy < thumbCells; cy++ {
		for cx := 0; cx < thumbCells; cx++ {
			n := 0
			inside := true
			for v := int(float64(cy) * ch); v < int(float64(cy+1)*ch) && inside; v++ {
				for u := int(float64(cx) * cw); u < int(float64(cx+1)*cw); u++ {
					x, y := apply(h, (float64(u)+0.5)*sx, (float64(v)+0.5)*sy)
					val, ok := sample(img, x*s, y*s)
					if !ok {
						inside = false
						break
					}
					if n < len(a) {
						a[n] = float64(thumb.Pix[v*thumb.Stride+u])
						b[n] = val
						n++
					}
				}
			}
			if !inside || n < 4 {
				continue
			}
			c, ok := ncc(a[:n], b[:n])
			if !ok {
				continue
			}
			judged++
			if c >= cellNCC {
				agree++
			}
		}
	}
	if judged == 0 {
		return 1, 0
	}
	return float64(agree) / float64(judged), judged
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

// visibleCoverage is the share of target grid cells that hold target
// features projecting inside the query frame and that hold an inlier. Plain
// coverage counts every cell, so a target half out of frame or with a blank
// sky looks poorly covered; this counts only cells where the query could
// show matches, so a picture that shares only part of a target (a variant of
// the same artwork) stands out.
func visibleCoverage(q, t *feature.Set, pairs []verify.Pair, r *verify.Result) float64 {
	const g = 8
	var feats, hit [g * g]uint16
	tw, th := float64(t.Width), float64(t.Height)
	cellOf := func(k *feature.Keypoint) int {
		cx := min(max(int(float64(k.X)/tw*g), 0), g-1)
		cy := min(max(int(float64(k.Y)/th*g), 0), g-1)
		return cy*g + cx
	}
	qw, qh := float64(q.Width), float64(q.Height)
	for i := range t.Keypoints {
		k := &t.Keypoints[i]
		x, y := apply(r.H, float64(k.X), float64(k.Y))
		if x >= 8 && y >= 8 && x < qw-8 && y < qh-8 {
			feats[cellOf(k)]++
		}
	}
	for _, ii := range r.InlierIndices {
		hit[cellOf(&t.Keypoints[pairs[ii].T])]++
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
