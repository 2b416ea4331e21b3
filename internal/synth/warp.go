// Package synth is the project's deterministic image synthesis: simulated
// camera frames of planar targets (for tests and evaluation) and distinct
// distractor targets made from a pool of photos.
//
// Everything here is a pure function of its inputs and seeds, with its own
// random generator, so fixtures and evaluation sets are reproducible across
// machines and Go releases. The package depends on nothing else in the
// project, so any package's tests can import it.
package synth

import (
	"image"
	"math"
)

// Homography maps target pixels to frame pixels (3x3 row-major). Pixel
// centres sit at integer coordinates, as in OpenCV.
type Homography [9]float64

// Identity is the homography that maps every point to itself.
func Identity() Homography { return Homography{1, 0, 0, 0, 1, 0, 0, 0, 1} }

// Apply maps a point. Points on the line at infinity map to ±Inf or NaN.
func (h Homography) Apply(x, y float64) (float64, float64) {
	w := h[6]*x + h[7]*y + h[8]
	return (h[0]*x + h[1]*y + h[2]) / w, (h[3]*x + h[4]*y + h[5]) / w
}

// Mul returns h∘g: first g, then h.
func (h Homography) Mul(g Homography) Homography {
	var r Homography
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			r[3*i+j] = h[3*i]*g[j] + h[3*i+1]*g[3+j] + h[3*i+2]*g[6+j]
		}
	}
	return r
}

// Inverse returns the inverse homography, normalised so its last entry is 1
// where possible; ok is false for a singular matrix.
func (h Homography) Inverse() (inv Homography, ok bool) {
	a, b, c, d, e, f, g, k, l := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
	co := [9]float64{
		e*l - f*k, c*k - b*l, b*f - c*e,
		f*g - d*l, a*l - c*g, c*d - a*f,
		d*k - e*g, b*g - a*k, a*e - b*d,
	}
	det := a*co[0] + b*co[3] + c*co[6]
	if det == 0 || math.IsNaN(det) || math.IsInf(det, 0) {
		return Homography{}, false
	}
	s := 1 / det
	if co[8] != 0 {
		s = 1 / co[8]
	}
	for i := range co {
		inv[i] = co[i] * s
	}
	return inv, true
}

// translate and scale build simple homographies for composition.
func translate(dx, dy float64) Homography { return Homography{1, 0, dx, 0, 1, dy, 0, 0, 1} }
func scale(sx, sy float64) Homography     { return Homography{sx, 0, 0, 0, sy, 0, 0, 0, 1} }

// Warp renders src through h onto dst with bilinear interpolation, leaving
// dst pixels outside the warped quad untouched, so callers can composite a
// target over a background. src covers [-0.5, w-0.5] x [-0.5, h-0.5].
//
// Warp point-samples: when h shrinks src by more than about 2x it aliases,
// as a real lens would not; Frame avoids that by shrinking the target first.
func Warp(dst, src *image.Gray, h Homography) {
	inv, ok := h.Inverse()
	if !ok {
		return
	}
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	// Only visit the bounding box of the quad (clipped to dst); rows are
	// then trimmed to the span where the source is hit.
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range [4][2]float64{{-0.5, -0.5}, {float64(sw) - 0.5, -0.5}, {float64(sw) - 0.5, float64(sh) - 0.5}, {-0.5, float64(sh) - 0.5}} {
		x, y := h.Apply(p[0], p[1])
		if math.IsNaN(x) || math.IsNaN(y) {
			continue
		}
		minX, minY = math.Min(minX, x), math.Min(minY, y)
		maxX, maxY = math.Max(maxX, x), math.Max(maxY, y)
	}
	// A quad crossing the horizon has no finite bounding box; fall back to
	// testing every pixel.
	if h[6]*h[6]+h[7]*h[7] == 0 || allPositiveW(h, sw, sh) {
		box := image.Rect(int(math.Floor(minX)), int(math.Floor(minY)), int(math.Ceil(maxX))+1, int(math.Ceil(maxY))+1).Intersect(dst.Rect)
		render(dst, box, src, inv, false)
		return
	}
	// Part of src lies behind the camera: its points would otherwise show
	// up mirrored through the horizon.
	horizon := [3]float64{h[6], h[7], h[8]}
	renderFront(dst, dst.Rect, src, inv, &horizon)
}

// allPositiveW reports whether all source corners stay in front of the
// camera, so the image of the source is a bounded convex quad.
func allPositiveW(h Homography, w, ht int) bool {
	for _, p := range [4][2]float64{{-0.5, -0.5}, {float64(w) - 0.5, -0.5}, {float64(w) - 0.5, float64(ht) - 0.5}, {-0.5, float64(ht) - 0.5}} {
		if h[6]*p[0]+h[7]*p[1]+h[8] <= 0 {
			return false
		}
	}
	return true
}

// render fills box of dst by sampling src at inv(x, y). With clamp, points
// outside src take the nearest edge value; without, those pixels are left
// alone.
func render(dst *image.Gray, box image.Rectangle, src *image.Gray, inv Homography, clamp bool) {
	renderSampled(dst, box, src, inv, clamp, nil)
}

// renderFront is render without clamping that also skips source points
// where front·(x, y, 1) <= 0, i.e. behind the camera.
func renderFront(dst *image.Gray, box image.Rectangle, src *image.Gray, inv Homography, front *[3]float64) {
	renderSampled(dst, box, src, inv, false, front)
}

func renderSampled(dst *image.Gray, box image.Rectangle, src *image.Gray, inv Homography, clamp bool, front *[3]float64) {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	fw, fh := float64(sw)-0.5, float64(sh)-0.5
	lastX, lastY := float64(sw-1), float64(sh-1)
	base := src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y)
	pix, stride := src.Pix, src.Stride
	for y := box.Min.Y; y < box.Max.Y; y++ {
		fy := float64(y)
		// Homogeneous source coordinates are linear along a row.
		u := inv[0]*float64(box.Min.X) + inv[1]*fy + inv[2]
		v := inv[3]*float64(box.Min.X) + inv[4]*fy + inv[5]
		w := inv[6]*float64(box.Min.X) + inv[7]*fy + inv[8]
		row := dst.Pix[dst.PixOffset(box.Min.X, y):dst.PixOffset(box.Max.X, y)]
		for i := range row {
			sx, sy := u/w, v/w
			u += inv[0]
			v += inv[3]
			w += inv[6]
			if !(sx >= -0.5 && sx <= fw && sy >= -0.5 && sy <= fh) { // also catches NaN
				if !clamp || sx != sx || sy != sy {
					continue
				}
			}
			if front != nil && front[0]*sx+front[1]*sy+front[2] <= 0 {
				continue
			}
			// Clamping also makes the edge half-pixels replicate the border.
			// (Plain comparisons: math.Min/Max cost a call each here.)
			if sx < 0 {
				sx = 0
			} else if sx > lastX {
				sx = lastX
			}
			if sy < 0 {
				sy = 0
			} else if sy > lastY {
				sy = lastY
			}
			x0, y0 := int(sx), int(sy)
			ax, ay := sx-float64(x0), sy-float64(y0)
			x1, y1 := min(x0+1, sw-1), min(y0+1, sh-1)
			r0 := base + y0*stride
			r1 := base + y1*stride
			top := float64(pix[r0+x0]) + ax*(float64(pix[r0+x1])-float64(pix[r0+x0]))
			bot := float64(pix[r1+x0]) + ax*(float64(pix[r1+x1])-float64(pix[r1+x0]))
			row[i] = uint8(top + ay*(bot-top) + 0.5)
		}
	}
}
