//go:build !purego

package vision

import (
	"image"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// The assembly kernels against the portable code they replace: every
// kernel must give exactly the same answers.

// portable runs f with the assembly kernels switched off.
func portable(t testing.TB, f func()) {
	t.Helper()
	if !useAVX2 {
		t.Skip("no AVX2 on this machine")
	}
	useAVX2 = false
	defer func() { useAVX2 = true }()
	f()
}

// requireAVX2 skips tests of the kernels themselves on machines without it.
func requireAVX2(t testing.TB) {
	t.Helper()
	if !useAVX2 {
		t.Skip("no AVX2 on this machine")
	}
}

// blockyNoise returns w*h pixels of random flat blocks plus noise of random
// strength, with some pixels pinned at 0 and 255, so that both sides of
// FAST, both saturations of its bounds and every score are common.
func blockyNoise(w, h int, r *rng) []byte {
	p := make([]byte, w*h)
	bw, bh := 1+int(r.next()%9), 1+int(r.next()%9)
	amp := int(r.next() % 120)
	tones := make([]int, (w/bw+1)*(h/bh+1))
	for i := range tones {
		tones[i] = int(r.next() % 256)
	}
	for y := range h {
		for x := range w {
			v := tones[(y/bh)*(w/bw+1)+x/bw]
			if amp > 0 {
				v += int(r.next()%uint64(2*amp+1)) - amp
			}
			switch r.next() % 64 {
			case 0:
				v = 0
			case 1:
				v = 255
			}
			p[y*w+x] = uint8(min(max(v, 0), 255))
		}
	}
	return p
}

func TestFastExactMatchesFastCorner(t *testing.T) {
	requireAVX2(t)
	r := rng(3)
	for iter := range 400 {
		w := 7 + int(r.next()%140)
		h := 7 + int(r.next()%12)
		p := blockyNoise(w, h, &r)
		th := 1 + int(r.next()%60)
		if iter%10 == 0 {
			th = 1 + int(r.next()%254)
		}
		off := circleOffsets(w)
		cand := make([]int32, 64*1024)
		// Every start from 3 rows and 1 pixel in, as long as the last
		// load stays inside p: rows end anywhere, also right at the end
		// of p.
		for i := 3*w + 1; i < len(p); i++ {
			for n := 32; i+3*w+n < len(p) && n <= 96; n += 32 {
				got := fastExact(p, w, i, n, th, cand)
				var want []int32
				for j := range n {
					if s := fastCorner(p, i+j, &off, th, sideBright|sideDark); s > 0 {
						want = append(want, int32(j|s<<16))
					}
				}
				if !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
					t.Fatalf("w=%d t=%d i=%d n=%d: got %x, want %x", w, th, i, n, got, want)
				}
			}
		}
	}
}

// TestFastExactArcs feeds the assembly's arc test every mask of 16 circle
// positions on each side, with the other side's pixels random, and checks
// it against hasArc9.
func TestFastExactArcs(t *testing.T) {
	requireAVX2(t)
	const w, h, th = 40, 7, 20
	r := rng(5)
	cand := make([]int32, 32)
	p := make([]byte, w*h)
	for m := range 1 << 16 {
		for side := sideBright; side <= sideDark; side++ {
			for i := range p {
				p[i] = 128
			}
			lane := int(r.next() % 32)
			other := uint32(r.next()) &^ uint32(m)
			c := 3*w + 3 + lane
			var mb, md uint32
			for k, o := range circle {
				bright := side == sideBright
				switch {
				case m>>k&1 == 1:
				case other>>k&1 == 1:
					bright = !bright
				default:
					continue
				}
				q := &p[c+o[1]*w+o[0]]
				if bright {
					*q = 128 + th + 1 + uint8(r.next()%(127-th))
					mb |= 1 << k
				} else {
					*q = 128 - th - 1 - uint8(r.next()%(128-th))
					md |= 1 << k
				}
			}
			got := 0
			for _, cj := range fastExact(p, w, 3*w+3, 32, th, cand) {
				if int(cj&0xffff) == lane {
					got = int(cj >> 16)
				}
			}
			if corner := hasArc9(mb) || hasArc9(md); (got > 0) != corner {
				t.Fatalf("bright %#04x dark %#04x: score %d, corner %v", mb, md, got, corner)
			}
			off := circleOffsets(w)
			if want := fastCorner(p, c, &off, th, sideBright|sideDark); got != want {
				t.Fatalf("bright %#04x dark %#04x: score %d, want %d", mb, md, got, want)
			}
		}
	}
}

func TestDetectFASTMatchesPortable(t *testing.T) {
	requireAVX2(t)
	r := rng(4)
	for range 300 {
		w := 7 + int(r.next()%200)
		h := 7 + int(r.next()%40)
		p := blockyNoise(w, h, &r)
		th := 1 + int(r.next()%80)
		// A random rectangle at least 3 pixels from the edges, which
		// often reaches the end of p.
		x0 := 3 + int(r.next()%uint64(w-6))
		x1 := x0 + int(r.next()%uint64(w-3-x0+1))
		y0 := 3 + int(r.next()%uint64(h-6))
		y1 := y0 + int(r.next()%uint64(h-3-y0+1))
		if r.next()%2 == 0 {
			x0, y0, x1, y1 = 3, 3, w-3, h-3
		}
		sa, sp := make([]uint16, w*h), make([]uint16, w*h)
		got := detectFAST(p, nil, w, x0, y0, x1, y1, th, sa, nil, new(fastScratch))
		var want []hit
		portable(t, func() {
			want = detectFAST(p, halved(p), w, x0, y0, x1, y1, th, sp, nil, new(fastScratch))
		})
		if !slices.Equal(got, want) || !slices.Equal(sa, sp) {
			t.Fatalf("w=%d h=%d t=%d [%d,%d)x[%d,%d): corners %v, portable %v", w, h, th, x0, x1, y0, y1, got, want)
		}
	}
}

// TestExtractMatchesPortable compares whole extractions on synthetic frames
// of several sizes and on the committed JPEG fixture.
func TestExtractMatchesPortable(t *testing.T) {
	requireAVX2(t)
	imgs := []*image.Gray{testImage(), synthImage(480, 640, 3), synthImage(333, 257, 4), synthImage(97, 61, 5)}
	// The repository's photographs.
	names, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*", "*.jpg"))
	if len(names) == 0 {
		t.Fatal("no JPEG fixtures")
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		img, err := Decode(data, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	for _, cfg := range []Config{DefaultConfig(), {MaxFeatures: 3000, FastThreshold: 9}} {
		for i, img := range imgs {
			e := NewExtractor(cfg)
			got := e.Extract(img)
			portable(t, func() {
				want := NewExtractor(cfg).Extract(img)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("config %+v, image %d: the AVX2 and portable features differ", cfg, i)
				}
			})
			if got.Len() == 0 {
				t.Fatalf("image %d: no features", i)
			}
		}
	}
}

func TestDownscaleRowMatchesPortable(t *testing.T) {
	requireAVX2(t)
	r := rng(6)
	for range 3000 {
		sw := 2 + int(r.next()%400)
		// Room after the row, from none (the last row of a level) to
		// more than the kernel reads.
		extra := int(r.next() % 80)
		src := make([]byte, 2*sw+extra)
		for i := range src {
			src[i] = uint8(r.next())
		}
		if r.next()%4 == 0 {
			for i := range src {
				src[i] = 255 * uint8(r.next()%2)
			}
		}
		wy := []uint64{0, 26, 77, 128, 179, 230, 256, r.next() % 257}[r.next()%8]
		w0, w1 := 256-wy, wy
		dw := int(r.next()%uint64(sw*5/6+2)) + 1
		r0, r1 := src[:sw], src[sw:2*sw]
		got, want := make([]byte, dw), make([]byte, dw)
		d := downscaleRowBlocks(got, src, src[sw:], sw, w0, w1)
		if d%40 != 0 || d > dw {
			t.Fatalf("sw=%d dw=%d: wrote %d", sw, dw, d)
		}
		n := downscaleRow6to5(want[:d], r0, r1, w0, w1)
		if n != d {
			// The portable row stops where its 8-byte loads would leave
			// the row; compare only what both wrote.
			d = n
		}
		if !slices.Equal(got[:d], want[:d]) {
			t.Fatalf("sw=%d dw=%d wy=%d: %v, portable %v", sw, dw, wy, got[:d], want[:d])
		}
	}
}

func TestDownscale6to5MatchesPortable(t *testing.T) {
	requireAVX2(t)
	r := rng(7)
	for range 200 {
		sw, sh := 2+int(r.next()%700), 2+int(r.next()%30)
		src := blockyNoise(sw, sh, &r)
		dw, dh := max(1, int(float64(sw)/1.2+0.5)), max(1, int(float64(sh)/1.2+0.5))
		got, want := make([]byte, dw*dh), make([]byte, dw*dh)
		downscale6to5(new(scratch), got, dw, dh, src, sw, sh)
		portable(t, func() { downscale6to5(new(scratch), want, dw, dh, src, sw, sh) })
		if !slices.Equal(got, want) {
			t.Fatalf("%dx%d: differs from the portable resize", sw, sh)
		}
	}
}

func TestBoxImageMatchesBoxSums(t *testing.T) {
	requireAVX2(t)
	r := rng(8)
	sc := new(scratch)
	for range 300 {
		w, h := 6+int(r.next()%120), 6+int(r.next()%30)
		lv := &level{pix: blockyNoise(w, h, &r), w: w, h: h}
		// Any rectangle of integral-image indexes at least one box wide.
		x0 := int(r.next() % uint64(w-4))
		x1 := x0 + boxSide + int(r.next()%uint64(w-x0-boxSide+1))
		y0 := int(r.next() % uint64(h-4))
		y1 := y0 + boxSide + int(r.next()%uint64(h-y0-boxSide+1))
		rect := iiRect{x0, y0, x1, y1}
		s := w + 1
		ii := integral(sc, lv, rect)
		clear(sc.box)
		box := boxImage(sc, ii, s, rect)
		for y := y0; y+boxSide <= y1; y++ {
			for x := x0; x+boxSide <= x1; x++ {
				want := 0
				for dy := range boxSide {
					for dx := range boxSide {
						want += int(lv.pix[(y+dy)*w+x+dx])
					}
				}
				if got := box[y*s+x]; int(got) != want {
					t.Fatalf("%dx%d %+v: box at (%d,%d) %d, want %d", w, h, rect, x, y, got, want)
				}
			}
		}
	}
}

func TestComparePairsMatchesCompareBoxes(t *testing.T) {
	requireAVX2(t)
	e := NewExtractor(DefaultConfig())
	r := rng(10)
	for _, stride := range []int{41, 100, 641, 1500} {
		var ts [2]offsetTable
		tab := e.offsets(&ts, stride)
		box := make([]uint16, 40*stride)
		for range 20 {
			for i := range box {
				// Few distinct values, so that ties are common.
				box[i] = uint16(r.next() % 8 * 900)
			}
			base := 20*stride + 20
			for bin := range angleBins {
				var vals [numPoints]uint16
				for j, o := range tab.o[bin*numPoints : bin*numPoints+numPoints] {
					vals[j] = box[base+int(o)]
				}
				if got, want := comparePairs(box, tab, bin, base), compareBoxes(&vals); got != want {
					t.Fatalf("stride %d bin %d: %x, want %x", stride, bin, got, want)
				}
			}
		}
	}
}

func TestIntegralMatchesPortable(t *testing.T) {
	requireAVX2(t)
	r := rng(11)
	for range 500 {
		w, h := 2+int(r.next()%150), 2+int(r.next()%20)
		lv := &level{pix: blockyNoise(w, h, &r), w: w, h: h}
		x0 := int(r.next() % uint64(w))
		x1 := x0 + 1 + int(r.next()%uint64(w-x0))
		y0 := int(r.next() % uint64(h))
		y1 := y0 + 1 + int(r.next()%uint64(h-y0))
		rect := iiRect{x0, y0, x1, y1}
		s := w + 1
		got := slices.Clone(integral(&scratch{ii: make([]uint16, (h+1)*s)}, lv, rect))
		var want []uint16
		portable(t, func() { want = integral(&scratch{ii: make([]uint16, (h+1)*s)}, lv, rect) })
		for y := y0; y <= y1; y++ {
			if a, b := got[y*s+x0:y*s+x1+1], want[y*s+x0:y*s+x1+1]; !slices.Equal(a, b) {
				t.Fatalf("%dx%d %+v: row %d %v, portable %v", w, h, rect, y, a, b)
			}
		}
	}
}

func TestHarrisMatchesPortable(t *testing.T) {
	requireAVX2(t)
	r := rng(12)
	for range 200 {
		w, h := 9+int(r.next()%100), 9+int(r.next()%20)
		p := blockyNoise(w, h, &r)
		for y := 4; y < h-4; y++ {
			// The last row's load reaches one pixel past the window.
			for x := 4; x < w-5; x++ {
				got := harris(p, w, x, y)
				var want float32
				portable(t, func() { want = harris(p, w, x, y) })
				if got != want {
					t.Fatalf("%dx%d (%d,%d): %v, portable %v", w, h, x, y, got, want)
				}
			}
		}
	}
}

// TestExtractMatchesPortableSizes compares whole extractions on frames of
// random sizes, odd ones and the smallest that hold a level included: the
// kernels' row ends and last rows meet every alignment.
func TestExtractMatchesPortableSizes(t *testing.T) {
	requireAVX2(t)
	r := rng(11)
	e := NewExtractor(DefaultConfig())
	for i := range 40 {
		w := minLevelSide + int(r.next()%700)
		h := minLevelSide + int(r.next()%500)
		if i < 4 {
			w, h = minLevelSide+i, minLevelSide+3-i
		}
		img := synthImage(w, h, uint64(100+i))
		got := e.Extract(img)
		portable(t, func() {
			if want := NewExtractor(DefaultConfig()).Extract(img); !reflect.DeepEqual(got, want) {
				t.Fatalf("%dx%d: the AVX2 and portable features differ", w, h)
			}
		})
	}
}
