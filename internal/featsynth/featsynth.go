// Package featsynth makes synthetic prepared targets at feature level, so the
// engine can be loaded with a million targets without rendering a million
// images and extracting their features. It exists to measure memory and
// latency at scale (`opencrs eval --synthetic N`); figures obtained with it
// are simulations and must be reported as such.
//
// # Method
//
// A Generator holds a base of real prepared targets (engine.Target, e.g. the
// distractor cache written by `opencrs eval --distractor-cache`, read with
// LoadDir). Target(i) builds a feature-level mosaic, deterministically in i
// and the seed (its own splitmix64 generator, no global state):
//
//  1. Pick 2–4 distinct base targets. The first gives the canvas its size,
//     so canvas sizes and aspect ratios follow the base's.
//  2. Cut the canvas into as many regions: two halves across the long side,
//     a half and two quarters, or a 2×2 grid with its own row split per
//     column; every split falls at 35–65% of the side.
//  3. Map one base target into each region at its native resolution: a crop
//     window of the region's size (smaller where the base is smaller) at a
//     random place in the base, put at a random place in the region. The
//     base's keypoints inside the window are translated; angle, octave,
//     scale and response are kept, since neither the image scale nor the
//     orientation changes. Each region receives the features of an equal
//     area of a real image, so there are about as many as in a real
//     target (more where a small, dense base fills a large region); each
//     octave is then capped at the first base target's count at that
//     octave, keeping the strongest responses, so the count and octave
//     distribution of synthetic targets follow the base's, a little below
//     it (2,000 synthetic targets from the first 2,000 files of the
//     distractor cache: mean 1,197 features against the base's 1,267, and
//     every octave's share within 0.01 of the base's).
//  4. Flip FlipBits distinct random bits of every descriptor. A copy lies a
//     few bits from its source (real matches differ by tens of bits), so it
//     quantises to its source's vocabulary word or a neighbouring one
//     (three bits: 70% keep the word, and 300 targets use as many distinct
//     words as 300 base targets do): posting-list lengths and retrieval
//     work stay those of real descriptors, while no two synthetic targets
//     share exact descriptors (short of a one-in-millions coincidence).
//  5. Assemble the thumbnail the same way, from the base targets'
//     thumbnails (grey 128 where a region is not covered), at the base
//     thumbnail's long side, so photometric verification has as much to
//     read and memory holds as much as for a real target. The grade is the
//     first base target's.
//
// # Limits
//
// Synthetic targets are realistic non-matches, not realistic images: each
// base feature recurs, slightly perturbed, in many synthetic targets (about
// N·2.5·area share / base size copies), so a large synthetic database holds
// more near-duplicate descriptors than a real one of that size; use a base
// of thousands of targets. Retrieval work, index size and memory per target
// are what the simulation is for; recall against synthetic distractors is
// an estimate of recall against real ones, not a measurement of it.
package featsynth

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/feature"
)

// Config configures a Generator. Zero fields take defaults.
type Config struct {
	// FlipBits is how many distinct bits of each descriptor are flipped;
	// 0 means 3.
	FlipBits int
	// Seed varies the whole family of synthetic targets.
	Seed uint64
	// Quantize, when set, gives the vocabulary words of a base target's
	// descriptors, computed once in New; TargetWords then hands each
	// synthetic descriptor its source's word, so a simulation of a million
	// targets skips a million vocabulary lookups. A flipped descriptor
	// keeps its source's word about 70% of the time when looked up, so
	// this concentrates synthetic postings slightly on the base's words.
	Quantize func(*feature.Set) []uint32
}

// Generator produces synthetic targets from a base of real ones. It is safe
// for concurrent use; it never modifies the base.
type Generator struct {
	base   []*engine.Target
	words  [][]uint32 // by base, with Config.Quantize
	cfg    Config
	budget []int // largest per-octave feature count in the base (octaves in use)
}

// New returns a generator over base. Base targets without features or size
// are ignored; at least one must remain. The generator keeps base.
func New(base []*engine.Target, cfg Config) (*Generator, error) {
	if cfg.FlipBits == 0 {
		cfg.FlipBits = 3
	}
	if cfg.FlipBits < 0 || cfg.FlipBits > 256 {
		return nil, fmt.Errorf("featsynth: flip bits %d out of 0…256", cfg.FlipBits)
	}
	g := &Generator{cfg: cfg}
	for _, t := range base {
		if t == nil || t.Features == nil || t.Features.Len() == 0 || t.Features.Width <= 0 || t.Features.Height <= 0 ||
			len(t.Features.Descriptors) != len(t.Features.Keypoints) {
			continue
		}
		g.base = append(g.base, t)
		var per [256]int
		for _, k := range t.Features.Keypoints {
			per[k.Octave]++
		}
		for o, n := range per {
			if n == 0 {
				continue
			}
			for len(g.budget) <= o {
				g.budget = append(g.budget, 0)
			}
			g.budget[o] = max(g.budget[o], n)
		}
	}
	if len(g.base) == 0 {
		return nil, errors.New("featsynth: no usable base target")
	}
	if cfg.Quantize != nil {
		for _, t := range g.base {
			g.words = append(g.words, cfg.Quantize(t.Features))
		}
	}
	return g, nil
}

// BaseLen returns the number of base targets in use.
func (g *Generator) BaseLen() int { return len(g.base) }

// rect is a half-open region [x0,x1)×[y0,y1) of the canvas.
type rect struct{ x0, y0, x1, y1 float32 }

func (r rect) dx() float32 { return r.x1 - r.x0 }
func (r rect) dy() float32 { return r.y1 - r.y0 }

// piece is one base target mapped into the canvas: the crop window
// [cx,cx+cw)×[cy,cy+ch) of the base lands at (ox,oy).
type piece struct {
	t              *engine.Target
	base           int // index in Generator.base
	cx, cy, cw, ch float32
	ox, oy         float32
}

// inWindow reports whether base point (x,y) lies in the crop window.
func (p *piece) inWindow(x, y float32) bool {
	return x >= p.cx && x < p.cx+p.cw && y >= p.cy && y < p.cy+p.ch
}

// Target returns the i-th synthetic target; the same i (and seed) always
// gives the same target.
func (g *Generator) Target(i int) *engine.Target {
	t, _ := g.TargetWords(i)
	return t
}

// TargetWords is Target plus the vocabulary word of each descriptor, taken
// from its source (nil without Config.Quantize).
func (g *Generator) TargetWords(i int) (*engine.Target, []uint32) {
	r := newRNG(g.cfg.Seed, uint64(i))
	k := min(2+r.intn(3), len(g.base))
	picks := make([]int, 0, k)
	for len(picks) < k {
		b := r.intn(len(g.base))
		dup := false
		for _, p := range picks {
			dup = dup || p == b
		}
		if !dup {
			picks = append(picks, b)
		}
	}
	first := g.base[picks[0]]
	w, h := first.Features.Width, first.Features.Height
	regions := layout(r, k, float32(w), float32(h))
	pieces := make([]piece, k)
	for j, b := range picks {
		t, reg := g.base[b], regions[j]
		bw, bh := float32(t.Features.Width), float32(t.Features.Height)
		p := piece{t: t, base: b, cw: min(reg.dx(), bw), ch: min(reg.dy(), bh)}
		p.cx, p.cy = r.float32()*(bw-p.cw), r.float32()*(bh-p.ch)
		p.ox, p.oy = reg.x0+r.float32()*(reg.dx()-p.cw), reg.y0+r.float32()*(reg.dy()-p.ch)
		pieces[j] = p
	}

	// Gather the features of every window, by octave, in piece order.
	type cand struct {
		kp   feature.Keypoint
		src  *feature.Descriptor
		word uint32
	}
	byOct := make([][]cand, len(g.budget))
	for j := range pieces {
		p := &pieces[j]
		fs := p.t.Features
		for n, kp := range fs.Keypoints {
			if !p.inWindow(kp.X, kp.Y) {
				continue
			}
			// Rounding must not carry a point onto the canvas's far edge.
			kp.X = min(kp.X-p.cx+p.ox, math.Nextafter32(float32(w), 0))
			kp.Y = min(kp.Y-p.cy+p.oy, math.Nextafter32(float32(h), 0))
			c := cand{kp: kp, src: &fs.Descriptors[n]}
			if g.words != nil {
				c.word = g.words[p.base][n]
			}
			byOct[kp.Octave] = append(byOct[kp.Octave], c)
		}
	}
	// The first base target's count per octave is the quota: the count and
	// octave distribution of synthetic targets follow the base's.
	quota := make([]int, len(g.budget))
	for _, k := range first.Features.Keypoints {
		quota[k.Octave]++
	}
	total := 0
	for o, cs := range byOct {
		if len(cs) > quota[o] {
			// Keep the strongest, in their gathered order.
			idx := make([]int, len(cs))
			for n := range idx {
				idx[n] = n
			}
			sort.SliceStable(idx, func(a, b int) bool { return cs[idx[a]].kp.Response > cs[idx[b]].kp.Response })
			idx = idx[:quota[o]]
			sort.Ints(idx)
			kept := make([]cand, len(idx))
			for n, x := range idx {
				kept[n] = cs[x]
			}
			byOct[o] = kept
		}
		total += len(byOct[o])
	}
	fs := &feature.Set{Width: w, Height: h,
		Keypoints: make([]feature.Keypoint, 0, total), Descriptors: make([]feature.Descriptor, 0, total)}
	var words []uint32
	if g.words != nil {
		words = make([]uint32, 0, total)
	}
	for _, cs := range byOct {
		for _, c := range cs {
			fs.Keypoints = append(fs.Keypoints, c.kp)
			fs.Descriptors = append(fs.Descriptors, flip(r, *c.src, g.cfg.FlipBits))
			if words != nil {
				words = append(words, c.word)
			}
		}
	}
	return &engine.Target{Features: fs, Grade: first.Grade, Thumb: thumbnail(pieces, w, h, thumbLong(first.Thumb))}, words
}

// layout cuts a w×h canvas into k regions (1 to 4).
func layout(r *rng, k int, w, h float32) []rect {
	split := func() float32 { return 0.35 + 0.3*r.float32() }
	whole := rect{0, 0, w, h}
	// cut splits a along its long side (or its short side when across).
	cut := func(a rect, across bool) (rect, rect) {
		f := split()
		if (a.dx() >= a.dy()) != across {
			x := a.x0 + f*a.dx()
			return rect{a.x0, a.y0, x, a.y1}, rect{x, a.y0, a.x1, a.y1}
		}
		y := a.y0 + f*a.dy()
		return rect{a.x0, a.y0, a.x1, y}, rect{a.x0, y, a.x1, a.y1}
	}
	switch k {
	case 1:
		return []rect{whole}
	case 2:
		a, b := cut(whole, false)
		return []rect{a, b}
	case 3:
		a, rest := cut(whole, false)
		b, c := cut(rest, w < h) // across the canvas's long side
		return []rect{a, b, c}
	default:
		x := split() * w
		left, right := rect{0, 0, x, h}, rect{x, 0, w, h}
		yl, yr := split()*h, split()*h
		return []rect{
			{left.x0, 0, left.x1, yl}, {right.x0, 0, right.x1, yr},
			{left.x0, yl, left.x1, h}, {right.x0, yr, right.x1, h},
		}
	}
}

// flip returns d with n distinct random bits flipped.
func flip(r *rng, d feature.Descriptor, n int) feature.Descriptor {
	var done [4]uint64
	for m := 0; m < n; {
		b := r.intn(256)
		if done[b>>6]&(1<<(b&63)) != 0 {
			continue
		}
		done[b>>6] |= 1 << (b & 63)
		m++
	}
	for j := range d {
		d[j] ^= done[j]
	}
	return d
}

// defaultThumbLong is the thumbnail's long side when the base has none to
// copy it from (the engine's, 64 pixels).
const defaultThumbLong = 64

func thumbLong(t *image.Gray) int {
	if t == nil || t.Rect.Empty() {
		return defaultThumbLong
	}
	return max(t.Rect.Dx(), t.Rect.Dy())
}

// thumbnail assembles the canvas's thumbnail (long side long) from the
// pieces' thumbnails, nearest-neighbour; uncovered pixels are grey 128.
func thumbnail(pieces []piece, w, h, long int) *image.Gray {
	tw, th := w, h
	if l := max(w, h); l > long {
		tw, th = max(1, (w*long+l/2)/l), max(1, (h*long+l/2)/l)
	}
	out := image.NewGray(image.Rect(0, 0, tw, th))
	sx, sy := float32(w)/float32(tw), float32(h)/float32(th)
	for v := 0; v < th; v++ {
		for u := 0; u < tw; u++ {
			x, y := (float32(u)+0.5)*sx, (float32(v)+0.5)*sy
			val := uint8(128)
			for j := range pieces {
				p := &pieces[j]
				bx, by := x-p.ox+p.cx, y-p.oy+p.cy
				if !p.inWindow(bx, by) {
					continue
				}
				if bt := p.t.Thumb; bt != nil && !bt.Rect.Empty() {
					btw, bth := bt.Rect.Dx(), bt.Rect.Dy()
					px := min(btw-1, int(bx*float32(btw)/float32(p.t.Features.Width)))
					py := min(bth-1, int(by*float32(bth)/float32(p.t.Features.Height)))
					val = bt.GrayAt(bt.Rect.Min.X+px, bt.Rect.Min.Y+py).Y
				}
				break
			}
			out.Pix[v*out.Stride+u] = val
		}
	}
	return out
}

// LoadDir decodes the first n prepared targets (files *.oct, written by
// engine.Target.MarshalBinary) of dir in name order; n <= 0 reads them all.
// Files that do not decode are skipped.
func LoadDir(dir string, n int) ([]*engine.Target, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("featsynth: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".oct") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []*engine.Target
	for _, name := range names {
		if n > 0 && len(out) >= n {
			break
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("featsynth: %w", err)
		}
		t := new(engine.Target)
		if t.UnmarshalBinary(b) != nil {
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("featsynth: no prepared targets (*.oct) in %s", dir)
	}
	return out, nil
}

// rng is splitmix64: tiny, fast and good enough to shuffle features.
type rng struct{ s uint64 }

func newRNG(seed, i uint64) *rng {
	r := &rng{s: seed ^ (i * 0xd1b54a32d192ed03)}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a value in [0,n), n > 0.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// float32 returns a value in [0,1).
func (r *rng) float32() float32 { return float32(r.next()>>40) / (1 << 24) }
