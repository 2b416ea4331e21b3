package vision

import (
	"image"
	"math"
)

// rng is a small deterministic generator (splitmix64) so synthetic images
// never depend on the standard library's generator versions.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform float in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// synthImage draws a deterministic natural-looking grey image: a smooth
// illumination gradient, then filled ellipses and rotated rectangles of
// random tone at several scales (edges at every angle, corners, blobs),
// a light blur that anti-aliases the edges, and a little noise.
func synthImage(w, h int, seed uint64) *image.Gray {
	r := rng(seed)
	f := make([]float64, w*h)
	gx, gy := (r.float()-0.5)*60/float64(w), (r.float()-0.5)*60/float64(h)
	base := 90 + 60*r.float()
	for y := range h {
		for x := range w {
			f[y*w+x] = base + gx*float64(x) + gy*float64(y)
		}
	}
	area := float64(w * h)
	// Fine detail clusters around a few centres, as in real scenes, leaving
	// flatter regions in between.
	var centres [6][2]float64
	for i := range centres {
		centres[i] = [2]float64{r.float() * float64(w), r.float() * float64(h)}
	}
	for _, sd := range [][2]float64{{90, 0.5}, {45, 0.3}, {22, 0.12}, {11, 0.05}, {6, 0.02}} {
		size, density := sd[0], sd[1]
		n := int(area / (size * size) * density)
		for i := range n {
			cx, cy := r.float()*float64(w), r.float()*float64(h)
			if size < 30 {
				c := centres[i%len(centres)]
				sp := float64(w) / 6
				cx = c[0] + (r.float()+r.float()+r.float()-1.5)*sp
				cy = c[1] + (r.float()+r.float()+r.float()-1.5)*sp
			}
			a := size * (0.5 + r.float())
			b := a * (0.3 + 0.7*r.float())
			th := r.float() * math.Pi
			tone := 255 * r.float()
			alpha := 0.3 + 0.7*r.float()
			rect := r.next()&1 == 0
			sin, cos := math.Sincos(th)
			// Shading across the shape, as lit surfaces have.
			shade := (r.float() - 0.5) * 80 / a
			ext := int(a) + 2
			for y := max(0, int(cy)-ext); y < min(h, int(cy)+ext+1); y++ {
				for x := max(0, int(cx)-ext); x < min(w, int(cx)+ext+1); x++ {
					dx, dy := float64(x)-cx, float64(y)-cy
					u, v := cos*dx+sin*dy, -sin*dx+cos*dy
					in := false
					if rect {
						in = math.Abs(u) <= a && math.Abs(v) <= b
					} else {
						in = (u*u)/(a*a)+(v*v)/(b*b) <= 1
					}
					if in {
						i := y*w + x
						f[i] += alpha * (tone + shade*u - f[i])
					}
				}
			}
		}
	}
	// Band-limited value noise at a few scales stands in for the fine
	// texture (print, fabric, foliage) real surfaces have, so patches are
	// rarely perfectly flat.
	for _, oct := range [][2]float64{{3, 7}, {7, 9}, {17, 10}} {
		step, amp := oct[0], oct[1]
		gw, gh := int(float64(w)/step)+2, int(float64(h)/step)+2
		g := make([]float64, gw*gh)
		for i := range g {
			g[i] = (r.float() - 0.5) * 2 * amp
		}
		for y := range h {
			fy := float64(y) / step
			y0 := int(fy)
			ty := fy - float64(y0)
			for x := range w {
				fx := float64(x) / step
				x0 := int(fx)
				tx := fx - float64(x0)
				a := g[y0*gw+x0]*(1-tx) + g[y0*gw+x0+1]*tx
				b := g[(y0+1)*gw+x0]*(1-tx) + g[(y0+1)*gw+x0+1]*tx
				f[y*w+x] += a*(1-ty) + b*ty
			}
		}
	}
	// Two 3x3 box passes (about a Gaussian of sigma 1.2) soften edges the
	// way a phone lens and JPEG do; sharp synthetic edges would train and
	// test the descriptor on unrealistically crisp patches.
	for range 2 {
		f = boxBlur3(f, w, h)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := f[y*w+x] + (r.float()-0.5)*6
			img.Pix[y*img.Stride+x] = uint8(math.Max(0, math.Min(255, math.Round(v))))
		}
	}
	return img
}

// boxBlur3 returns f blurred by a 3x3 box, shrinking the box at the edges.
func boxBlur3(f []float64, w, h int) []float64 {
	out := make([]float64, len(f))
	for y := range h {
		for x := range w {
			var s float64
			var n int
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx >= 0 && xx < w && yy >= 0 && yy < h {
						s += f[yy*w+xx]
						n++
					}
				}
			}
			out[y*w+x] = s / float64(n)
		}
	}
	return out
}

// warp returns src rotated by angle (radians, image coordinates, y down)
// and scaled by scale about its centre, into a dw x dh image whose centre
// the source centre maps to; outside pixels are mid-grey. It also returns
// the forward mapping of source points.
func warp(src *image.Gray, angle, scale float64, dw, dh int) (*image.Gray, func(x, y float64) (float64, float64)) {
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	scx, scy := float64(sw-1)/2, float64(sh-1)/2
	dcx, dcy := float64(dw-1)/2, float64(dh-1)/2
	sin, cos := math.Sincos(angle)
	dst := image.NewGray(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			// Inverse map: undo scale, then rotate by -angle.
			u, v := (float64(x)-dcx)/scale, (float64(y)-dcy)/scale
			sx := cos*u + sin*v + scx
			sy := -sin*u + cos*v + scy
			val := 128.0
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			if x0 >= 0 && y0 >= 0 && x0+1 < sw && y0+1 < sh {
				fx, fy := sx-float64(x0), sy-float64(y0)
				p := func(xx, yy int) float64 { return float64(src.Pix[yy*src.Stride+xx]) }
				val = (p(x0, y0)*(1-fx)+p(x0+1, y0)*fx)*(1-fy) + (p(x0, y0+1)*(1-fx)+p(x0+1, y0+1)*fx)*fy
			}
			dst.Pix[y*dst.Stride+x] = uint8(math.Round(val))
		}
	}
	fwd := func(x, y float64) (float64, float64) {
		u, v := x-scx, y-scy
		return scale*(cos*u-sin*v) + dcx, scale*(sin*u+cos*v) + dcy
	}
	return dst, fwd
}
