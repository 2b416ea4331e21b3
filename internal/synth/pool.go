package synth

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // pool formats
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	_ "golang.org/x/image/webp"
)

// poolMaxSide bounds the memory a pool image takes once decoded: grey, long
// side at most this, plus its halvings (about 1 MB per image in all).
const poolMaxSide = 1024

// Pool makes distractor targets from a directory of photos. Images are
// decoded on first use and kept (grey, shrunk to poolMaxSide); a Pool is
// safe for concurrent use.
type Pool struct {
	paths   []string
	entries []poolEntry
	mul     int // multiplier of the slot permutation, coprime with len(paths)
}

type poolEntry struct {
	once   sync.Once
	levels []*image.Gray // levels[0] long side <= poolMaxSide; each next one halved
}

// OpenPool lists the JPEG, PNG and WebP files of dir (sorted by name, so
// distractors depend only on the directory's contents) whose headers decode
// to at least 64x64 pixels. Pixels are decoded lazily.
func OpenPool(dir string) (*Pool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("synth: open pool: %w", err)
	}
	var paths []string
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".webp":
		default:
			continue
		}
		path := filepath.Join(dir, e.Name())
		if ok, err := usableHeader(path); err != nil {
			return nil, fmt.Errorf("synth: open pool: %w", err)
		} else if ok {
			paths = append(paths, path)
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("synth: open pool: no usable images in %s", dir)
	}
	sort.Strings(paths)
	p := &Pool{paths: paths, entries: make([]poolEntry, len(paths))}
	// Any multiplier coprime with n gives a permutation of slots to images;
	// a large one scatters consecutive slots across the (sorted) directory,
	// so one mosaic does not draw on neighbouring files of one package.
	for _, m := range []int{7919, 104729, 1299709, 15485863} {
		if gcd(m%len(paths), len(paths)) == 1 {
			p.mul = m
			break
		}
	}
	if p.mul == 0 {
		p.mul = 1
	}
	return p, nil
}

func usableHeader(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	return err == nil && cfg.Width >= 64 && cfg.Height >= 64, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Len is the number of images in the pool.
func (p *Pool) Len() int { return len(p.paths) }

// load returns the pyramid of image k, or nil if it does not decode.
func (p *Pool) load(k int) []*image.Gray {
	e := &p.entries[k]
	e.once.Do(func() {
		data, err := os.ReadFile(p.paths[k])
		if err != nil {
			return
		}
		m, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		g := toGray(m)
		for max(g.Rect.Dx(), g.Rect.Dy()) > poolMaxSide {
			g = halve(g)
		}
		e.levels = []*image.Gray{g}
		for min(g.Rect.Dx(), g.Rect.Dy()) >= 64 {
			g = halve(g)
			e.levels = append(e.levels, g)
		}
	})
	return e.levels
}

// image returns the pyramid for slot s: image perm(s mod n), or the next one
// that decodes.
func (p *Pool) image(slot int) (k int, levels []*image.Gray) {
	n := len(p.paths)
	k = int((uint64(slot%n) * uint64(p.mul)) % uint64(n))
	for range n {
		if lv := p.load(k); lv != nil {
			return k, lv
		}
		k = (k + 1) % n
	}
	panic("synth: no image in the pool decodes")
}

// piecesPerDistractor is the most crops one distractor uses (a 3x3 mosaic).
// Distractor i owns slots [i*piecesPerDistractor, (i+1)*piecesPerDistractor),
// so no two distractors ever share a slot.
const piecesPerDistractor = 9

// Distractor returns the i-th distractor target, a deterministic function of
// the pool's files and i: a crop at a random scale, a 2x2 or 3x3 mosaic of
// crops from different images, or a mildly warped crop; then flips and an
// intensity remap (contrast, gamma, sometimes a partly inverted region).
// The long side is 480–1000 pixels, like real targets.
//
// Each crop comes from a slot no other distractor uses; a slot fixes an
// image and a round, and round r takes the r-th point of a low-discrepancy
// sequence over crop scale, aspect and position, so crop boxes never repeat
// and spread evenly over each image as i grows.
func (p *Pool) Distractor(i int) *image.Gray {
	r := newRNG(uint64(i), 0xd157)
	slot0 := i * piecesPerDistractor
	kind := r.float()
	switch {
	case kind < 0.5:
		return p.single(r, slot0, false)
	case kind < 0.7:
		return p.mosaic(r, slot0, 2)
	case kind < 0.8:
		return p.mosaic(r, slot0, 3)
	default:
		return p.single(r, slot0, true)
	}
}

// cropBox returns the crop of slot in an iw x ih image, with the given
// aspect (w/h) or, if aspect is 0, one from the sequence.
func (p *Pool) cropBox(slot int, iw, ih, aspect float64) (x0, y0, bw, bh float64) {
	n := len(p.paths)
	round := float64(slot/n + 1)
	// Kronecker sequence with the 4-dimensional generalised golden ratio.
	const phi = 1.1673039782614187
	u := func(d int, off float64) float64 {
		_, f := math.Modf(off + round/math.Pow(phi, float64(d+1)))
		return f
	}
	// Per-image offsets, so image k and k' do not crop the same places.
	ro := newRNG(uint64(slot%n), 0xb0c5)
	share := 0.15 + 0.85*u(0, ro.float()) // box area / image area
	if aspect == 0 {
		aspect = math.Exp(math.Log(0.6) + (math.Log(1/0.6)-math.Log(0.6))*u(1, ro.float()))
	}
	area := share * iw * ih
	bw, bh = math.Sqrt(area*aspect), math.Sqrt(area/aspect)
	if bw > iw {
		bw, bh = iw, iw/aspect
	}
	if bh > ih {
		bw, bh = ih*aspect, ih
	}
	x0 = u(2, ro.float()) * (iw - bw)
	y0 = u(3, ro.float()) * (ih - bh)
	return x0, y0, bw, bh
}

// single renders one crop, optionally with a mild perspective warp.
func (p *Pool) single(r *rng, slot int, warp bool) *image.Gray {
	_, lv := p.image(slot)
	iw, ih := float64(lv[0].Rect.Dx()), float64(lv[0].Rect.Dy())
	x0, y0, bw, bh := p.cropBox(slot, iw, ih, 0)
	if warp {
		// Leave a margin for the warp to look into.
		m := 0.08
		x0, y0, bw, bh = x0+m*bw, y0+m*bh, bw*(1-2*m), bh*(1-2*m)
	}
	long := math.Min(math.Max(math.Max(bw, bh)*r.uniform(0.8, 1.25), 480), 1000)
	w, h := outSize(bw/bh, long)
	dst := image.NewGray(image.Rect(0, 0, w, h))
	var extra Homography
	if warp {
		extra = mildWarp(r, float64(w), float64(h))
	} else {
		extra = Identity()
	}
	p.draw(dst, dst.Rect, lv, x0, y0, bw, bh, r, extra)
	remap(dst, r)
	return dst
}

// mosaic tiles n x n crops from different images.
func (p *Pool) mosaic(r *rng, slot0, n int) *image.Gray {
	aspect := math.Exp(r.uniform(math.Log(0.6), math.Log(1/0.6)))
	w, h := outSize(aspect, r.uniform(600, 1000))
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for j := 0; j < n*n; j++ {
		cx, cy := j%n, j/n
		cell := image.Rect(cx*w/n, cy*h/n, (cx+1)*w/n, (cy+1)*h/n)
		_, lv := p.image(slot0 + j)
		iw, ih := float64(lv[0].Rect.Dx()), float64(lv[0].Rect.Dy())
		x0, y0, bw, bh := p.cropBox(slot0+j, iw, ih, float64(cell.Dx())/float64(cell.Dy()))
		p.draw(dst, cell, lv, x0, y0, bw, bh, r, Identity())
	}
	remap(dst, r)
	return dst
}

func outSize(aspect, long float64) (w, h int) {
	if aspect >= 1 {
		return int(long), max(1, int(long/aspect))
	}
	return max(1, int(long*aspect)), int(long)
}

// mildWarp is a small projective distortion about the centre of a w x h
// image: a few percent of shear and scale and a little perspective.
func mildWarp(r *rng, w, h float64) Homography {
	s := math.Max(w, h)
	j := Homography{
		1 + r.uniform(-0.05, 0.05), r.uniform(-0.05, 0.05), 0,
		r.uniform(-0.05, 0.05), 1 + r.uniform(-0.05, 0.05), 0,
		r.uniform(-0.08, 0.08) / s, r.uniform(-0.08, 0.08) / s, 1,
	}
	return translate(w/2, h/2).Mul(j).Mul(translate(-w/2, -h/2))
}

// draw fills rect of dst with the box (x0, y0, bw, bh) of the level-0 image,
// randomly flipped, after the dst-side distortion extra.
func (p *Pool) draw(dst *image.Gray, rect image.Rectangle, lv []*image.Gray, x0, y0, bw, bh float64, r *rng, extra Homography) {
	rw, rh := float64(rect.Dx()), float64(rect.Dy())
	// dst pixel -> rect-local pixel -> (flip) -> box -> level-0 pixel.
	local := translate(-float64(rect.Min.X), -float64(rect.Min.Y))
	flip := Identity()
	if r.float() < 0.5 {
		flip = Homography{-1, 0, rw - 1, 0, 1, 0, 0, 0, 1}.Mul(flip)
	}
	if r.float() < 0.15 {
		flip = Homography{1, 0, 0, 0, -1, rh - 1, 0, 0, 1}.Mul(flip)
	}
	sx, sy := bw/rw, bh/rh
	box := translate(x0-0.5+sx/2, y0-0.5+sy/2).Mul(scale(sx, sy))
	m := box.Mul(flip).Mul(extra).Mul(local)
	// Sample from the pyramid level at which the box is at most 2x larger
	// than the cell, so the bilinear sampler does not alias.
	c := math.Min(sx, sy)
	k := 0
	for c >= 2 && k+1 < len(lv) {
		m = halveMap().Mul(m)
		c /= 2
		k++
	}
	render(dst, rect, lv[k], m, true)
}

// remap applies a random tone curve and sometimes inverts a rectangle, so
// crops of one photo do not share intensities either.
func remap(img *image.Gray, r *rng) {
	lut := toneLUT(r.uniform(0.7, 1.3), r.uniform(-20, 20), math.Exp(r.uniform(math.Log(0.6), math.Log(1.6))))
	applyLUT(img, &lut)
	if r.float() < 0.25 {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		fw, fh := r.uniform(0.3, 0.7), r.uniform(0.4, 0.8)
		x0 := int(r.uniform(0, 1-fw) * float64(w))
		y0 := int(r.uniform(0, 1-fh) * float64(h))
		sub := image.Rect(x0, y0, x0+int(fw*float64(w)), y0+int(fh*float64(h)))
		var inv [256]uint8
		for i := range inv {
			inv[i] = uint8(255 - i)
		}
		applyLUT(img.SubImage(sub).(*image.Gray), &inv)
	}
}
