package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// texture is a deterministic picture with structure at several scales and
// no symmetry, standing in for a photo.
func texture(w, h int, seed uint64) *image.Gray {
	r := newRNG(seed)
	type wave struct{ fx, fy, ph, amp float64 }
	var ws []wave
	for range 12 {
		ws = append(ws, wave{r.uniform(-0.2, 0.2), r.uniform(-0.2, 0.2), r.uniform(0, 6.3), r.uniform(5, 20)})
	}
	// sin(a x + b y + c) = sin(a x) cos(b y + c) + cos(a x) sin(b y + c):
	// per-axis tables keep this cheap.
	sx, cx := make([][]float64, len(ws)), make([][]float64, len(ws))
	for k, q := range ws {
		sx[k], cx[k] = make([]float64, w), make([]float64, w)
		for x := range w {
			sx[k][x], cx[k][x] = math.Sincos(q.fx * float64(x))
		}
	}
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		row := m.Pix[y*w : (y+1)*w]
		for x := range row {
			row[x] = 128
		}
		acc := make([]float64, w)
		for k, q := range ws {
			s, c := math.Sincos(q.fy*float64(y) + q.ph)
			for x := range acc {
				acc[x] += q.amp * (sx[k][x]*c + cx[k][x]*s)
			}
		}
		for x, v := range acc {
			row[x] = clamp8(128 + v)
		}
	}
	return m
}

func TestHomographyInverse(t *testing.T) {
	tests := []Homography{
		Identity(),
		{2, 0, 5, 0, 3, -7, 0, 0, 1},
		{0.9, 0.1, 10, -0.2, 1.1, 4, 1e-4, -2e-4, 1},
	}
	for i, h := range tests {
		inv, ok := h.Inverse()
		if !ok {
			t.Fatalf("%d: singular", i)
		}
		for _, p := range [][2]float64{{0, 0}, {100, 50}, {-30, 200}} {
			x, y := h.Apply(p[0], p[1])
			bx, by := inv.Apply(x, y)
			if math.Hypot(bx-p[0], by-p[1]) > 1e-9 {
				t.Errorf("%d: %v -> (%g,%g) -> (%g,%g)", i, p, x, y, bx, by)
			}
		}
	}
	if _, ok := (Homography{}).Inverse(); ok {
		t.Error("zero matrix inverted")
	}
}

func TestWarpMapsKnownPoint(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range src.Pix {
		src.Pix[i] = 50
	}
	src.SetGray(10, 12, color.Gray{250}) // one bright dot
	tests := []struct {
		name   string
		h      Homography
		wantAt [2]int
	}{
		{"translate", translate(7, 3), [2]int{17, 15}},
		{"scale", scale(2, 2), [2]int{20, 24}},
		{"rotate 90", Homography{0, -1, 100, 1, 0, 0, 0, 0, 1}, [2]int{88, 10}},
		{"projective", Homography{1, 0, 0, 0, 1, 0, 0.001, 0, 1}, [2]int{int(math.Round(10 / 1.01)), int(math.Round(12 / 1.01))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := image.NewGray(image.Rect(0, 0, 120, 80))
			for i := range dst.Pix {
				dst.Pix[i] = 7
			}
			Warp(dst, src, tc.h)
			bx, by, best := -1, -1, uint8(0)
			for y := 0; y < 80; y++ {
				for x := 0; x < 120; x++ {
					if v := dst.GrayAt(x, y).Y; v > best {
						bx, by, best = x, y, v
					}
				}
			}
			if bx != tc.wantAt[0] || by != tc.wantAt[1] {
				t.Errorf("dot at (%d,%d), want %v", bx, by, tc.wantAt)
			}
			// Outside the quad, dst is untouched.
			x, y := tc.h.Apply(-5, -5)
			if image.Pt(int(x), int(y)).In(dst.Rect) && dst.GrayAt(int(x), int(y)).Y != 7 {
				t.Errorf("pixel outside the quad changed")
			}
		})
	}
}

func TestWarpLeavesOutsideUntouched(t *testing.T) {
	src := texture(50, 40, 1)
	dst := image.NewGray(image.Rect(0, 0, 200, 200))
	for i := range dst.Pix {
		dst.Pix[i] = 3
	}
	Warp(dst, src, translate(60, 70))
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			inside := x >= 60 && x < 110 && y >= 70 && y < 110
			if v := dst.GrayAt(x, y).Y; inside != (v != 3) && !(inside && v == 3) {
				t.Fatalf("(%d,%d)=%d inside=%v", x, y, v, inside)
			}
		}
	}
	// Exactly the source, since the translation is integral.
	for y := 0; y < 40; y++ {
		for x := 0; x < 50; x++ {
			if dst.GrayAt(60+x, 70+y) != src.GrayAt(x, y) {
				t.Fatalf("(%d,%d) differs", x, y)
			}
		}
	}
}

// A homography whose horizon crosses the source must draw only the part in
// front of the camera, not a mirrored copy of the rest.
func TestWarpHorizon(t *testing.T) {
	src := image.NewGray(image.Rect(0, 0, 200, 100))
	for i := range src.Pix {
		src.Pix[i] = 200
	}
	// w = 1 - 0.01x: source columns x > 100 lie behind the camera.
	h := Homography{1, 0, 0, 0, 1, 0, -0.01, 0, 1}
	dst := image.NewGray(image.Rect(-400, -400, 400, 400))
	Warp(dst, src, h)
	inv, _ := h.Inverse()
	for y := -400; y < 400; y += 3 {
		for x := -400; x < 400; x += 3 {
			if dst.GrayAt(x, y).Y == 0 {
				continue
			}
			sx, sy := inv.Apply(float64(x), float64(y))
			if w := 1 - 0.01*sx; w <= 0 || sx < -0.5 || sy < -0.5 || sx > 199.5 || sy > 99.5 {
				t.Fatalf("dst (%d,%d) drawn from source (%.1f,%.1f), w=%.2f", x, y, sx, sy, w)
			}
		}
	}
	if dst.GrayAt(50, 50).Y != 200 {
		t.Fatalf("front part not drawn: %d", dst.GrayAt(50, 50).Y)
	}
}

func TestFrame(t *testing.T) {
	target := texture(300, 200, 2)
	bg := texture(900, 700, 3)
	tests := []struct {
		name string
		p    FrameParams
		bg   *image.Gray
	}{
		{"defaults", FrameParams{}, nil},
		{"easy", RandomParams("easy", 1), bg},
		{"medium", RandomParams("medium", 2), bg},
		{"hard", RandomParams("hard", 3), bg},
		{"extreme", RandomParams("extreme", 4), bg},
		{"portrait tilted", FrameParams{W: 480, H: 640, RotDeg: 40, TiltDeg: 60, TiltAxisDeg: 30, AreaShare: 0.9}, bg},
		{"tiny", FrameParams{W: 320, H: 240, AreaShare: 0.04, Blur: 1, Noise: 5, JPEGQuality: 60}, bg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p.withDefaults()
			frame, h, corners := Frame(target, tc.bg, tc.p)
			if frame.Rect != image.Rect(0, 0, p.W, p.H) {
				t.Fatalf("frame %v, want %dx%d", frame.Rect, p.W, p.H)
			}
			for i, c := range [4][2]float64{{0, 0}, {300, 0}, {300, 200}, {0, 200}} {
				x, y := h.Apply(c[0], c[1])
				if math.Hypot(x-corners[i][0], y-corners[i][1]) > 1e-6 {
					t.Errorf("corner %d = %v, h gives (%g,%g)", i, corners[i], x, y)
				}
				if x < 0 || y < 0 || x > float64(p.W) || y > float64(p.H) {
					t.Errorf("corner %d (%g,%g) outside the frame", i, x, y)
				}
			}
			share := quadArea(corners) / float64(p.W*p.H)
			if share > p.AreaShare*1.001 {
				t.Errorf("area share %.3f, asked %.3f", share, p.AreaShare)
			}
			// Less than asked only when it had to shrink to fit.
			if minX, minY, maxX, maxY := bbox(corners); share < p.AreaShare*0.999 &&
				maxX-minX < 0.95*float64(p.W) && maxY-minY < 0.95*float64(p.H) {
				t.Errorf("area share %.3f, asked %.3f, though a %.0fx%.0f box fits", share, p.AreaShare, maxX-minX, maxY-minY)
			}
			// Target and frame agree where the target was pasted (before
			// photometric changes: only check the clean case).
			if tc.name == "defaults" {
				inv, _ := h.Inverse()
				var diff float64
				n := 0
				for y := 100; y < 380; y += 7 {
					for x := 150; x < 490; x += 7 {
						tx, ty := inv.Apply(float64(x), float64(y))
						if tx < 2 || ty < 2 || tx > 297 || ty > 197 {
							continue
						}
						diff += math.Abs(float64(frame.GrayAt(x, y).Y) - float64(target.GrayAt(int(tx+0.5), int(ty+0.5)).Y))
						n++
					}
				}
				if n < 100 || diff/float64(n) > 12 {
					t.Errorf("frame does not show the target: mean diff %.1f over %d samples", diff/float64(n), n)
				}
			}
		})
	}
}

func TestFrameDeterministic(t *testing.T) {
	target, bg := texture(200, 150, 4), texture(500, 400, 5)
	p := RandomParams("hard", 9)
	a, ha, _ := Frame(target, bg, p)
	b, hb, _ := Frame(target, bg, p)
	if ha != hb || !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("same parameters gave different frames")
	}
}

func TestRandomParams(t *testing.T) {
	for _, lv := range Levels() {
		t.Run(lv, func(t *testing.T) {
			l, _ := levelRanges(lv)
			if RandomParams(lv, 5) != RandomParams(lv, 5) {
				t.Fatal("not deterministic")
			}
			if RandomParams(lv, 5) == RandomParams(lv, 6) {
				t.Fatal("seed ignored")
			}
			for seed := uint64(0); seed < 200; seed++ {
				p := RandomParams(lv, seed)
				switch {
				case math.Abs(p.RotDeg) > l.rot, p.TiltDeg < 0 || p.TiltDeg > l.tilt,
					p.AreaShare < l.areaLo || p.AreaShare > l.areaHi,
					p.Blur > l.blur, p.Noise > l.noise, p.JPEGQuality != l.quality,
					p.Contrast < l.conLo || p.Contrast > l.conHi, p.Gamma < l.gamLo || p.Gamma > l.gamHi,
					p.W*p.H != 640*480:
					t.Fatalf("seed %d out of range: %+v", seed, p)
				}
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("unknown level did not panic")
		}
	}()
	RandomParams("impossible", 1)
}

// writePool writes n synthetic photos (mixed formats and sizes) into a
// temporary directory, plus files the pool must ignore.
func writePool(t testing.TB, n int) string {
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		w, h := 300+97*i%500, 260+61*i%400
		m := texture(w, h, uint64(100+i))
		var buf bytes.Buffer
		name := fmt.Sprintf("img%02d", i)
		if i%2 == 0 {
			name += ".jpg"
			if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
				t.Fatal(err)
			}
		} else {
			name += ".png"
			if err := png.Encode(&buf, m); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"SOURCES.tsv": "x", "broken.jpg": "\xff\xd8\xffnope", "tiny.png": ""} {
		if name == "tiny.png" {
			var buf bytes.Buffer
			png.Encode(&buf, image.NewGray(image.Rect(0, 0, 10, 10)))
			data = buf.String()
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// thumb reduces an image to 32x32 block means, to compare images of
// different sizes.
func thumb(m *image.Gray) [32 * 32]float64 {
	var t [32 * 32]float64
	var n [32 * 32]float64
	w, h := m.Rect.Dx(), m.Rect.Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			k := (y*32/h)*32 + x*32/w
			t[k] += float64(m.Pix[y*m.Stride+x])
			n[k]++
		}
	}
	for k := range t {
		t[k] /= n[k]
	}
	return t
}

func TestPoolDistractors(t *testing.T) {
	dir := writePool(t, 8)
	pool, err := OpenPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pool.Len() != 8 {
		t.Fatalf("Len = %d, want 8 (broken, tiny and non-image files skipped)", pool.Len())
	}
	const n = 60
	thumbs := make([][32 * 32]float64, n)
	for i := 0; i < n; i++ {
		d := pool.Distractor(i)
		long := max(d.Rect.Dx(), d.Rect.Dy())
		if long < 480 || long > 1000 || min(d.Rect.Dx(), d.Rect.Dy()) < 200 {
			t.Errorf("distractor %d: size %v", i, d.Rect.Size())
		}
		thumbs[i] = thumb(d)
	}
	// Deterministic, also from a fresh pool (no dependence on cache state).
	again, _ := OpenPool(dir)
	for _, i := range []int{0, 7, 33, n - 1} {
		if thumb(again.Distractor(i)) != thumbs[i] || thumb(pool.Distractor(i)) != thumbs[i] {
			t.Errorf("distractor %d not deterministic", i)
		}
	}
	// Distinct: every pair differs substantially.
	worst := math.Inf(1)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			var d float64
			for k := range thumbs[i] {
				d += math.Abs(thumbs[i][k] - thumbs[j][k])
			}
			d /= float64(len(thumbs[i]))
			worst = math.Min(worst, d)
			if d < 6 {
				t.Errorf("distractors %d and %d nearly equal: mean abs diff %.1f", i, j, d)
			}
		}
	}
	t.Logf("smallest pairwise mean abs difference: %.1f", worst)
}

func TestPoolConcurrent(t *testing.T) {
	pool, err := OpenPool(writePool(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	want := make([][32 * 32]float64, 6)
	for i := range want {
		want[i] = thumb(pool.Distractor(i))
	}
	fresh, _ := OpenPool(filepath.Dir(pool.paths[0]))
	done := make(chan error)
	for g := 0; g < 3; g++ {
		go func() {
			for i := range want {
				if thumb(fresh.Distractor(i)) != want[i] {
					done <- fmt.Errorf("distractor %d differs under concurrency", i)
					return
				}
			}
			done <- nil
		}()
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestOpenPoolErrors(t *testing.T) {
	if _, err := OpenPool(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing directory accepted")
	}
	if _, err := OpenPool(t.TempDir()); err == nil {
		t.Error("empty directory accepted")
	}
}

func BenchmarkDistractor(b *testing.B) {
	pool, err := OpenPool(writePool(b, 8))
	if err != nil {
		b.Fatal(err)
	}
	for i := range 8 * 3 { // warm the cache: measure synthesis, not decoding
		pool.Distractor(i)
	}
	i := 0
	for b.Loop() {
		pool.Distractor(i)
		i++
	}
}

func BenchmarkFrame(b *testing.B) {
	target, bg := texture(800, 600, 1), texture(1024, 768, 2)
	p := RandomParams("medium", 1)
	for b.Loop() {
		Frame(target, bg, p)
	}
}

// TestRepositoryFixtures checks testdata/ at the repository root (made by
// cmd/mkfixtures) against its truth.json: files present, sizes right, the
// corners agreeing with the homography, and the frame showing the target
// where the truth says.
func TestRepositoryFixtures(t *testing.T) {
	root := filepath.Join("..", "..", "testdata")
	data, err := os.ReadFile(filepath.Join(root, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth []struct {
		Query      string
		Target     *string
		Corners    *[4][2]float64
		Homography *Homography
	}
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatal(err)
	}
	if len(truth) != 3 {
		t.Fatalf("%d queries in truth.json, want 3", len(truth))
	}
	load := func(name string) *image.Gray {
		f, err := os.Open(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, err := jpeg.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return toGray(m)
	}
	for _, name := range []string{"targets/a.jpg", "targets/b.jpg", "targets/c.jpg"} {
		if g := load(name); max(g.Rect.Dx(), g.Rect.Dy()) > 480 {
			t.Errorf("%s is %v, long side must be <= 480", name, g.Rect.Size())
		}
	}
	for _, q := range truth {
		frame := load(q.Query)
		if frame.Rect.Dx() != 640 || frame.Rect.Dy() != 480 {
			t.Errorf("%s: size %v", q.Query, frame.Rect.Size())
		}
		if q.Target == nil {
			continue
		}
		target := load(*q.Target)
		h := *q.Homography
		w, ht := float64(target.Rect.Dx()), float64(target.Rect.Dy())
		for i, c := range [4][2]float64{{0, 0}, {w, 0}, {w, ht}, {0, ht}} {
			x, y := h.Apply(c[0], c[1])
			if math.Hypot(x-q.Corners[i][0], y-q.Corners[i][1]) > 1e-6 {
				t.Errorf("%s: corner %d disagrees with the homography", q.Query, i)
			}
		}
		// Correlate target and frame over the target: the grey levels are
		// remapped by tone, blur and noise, but strongly correlated.
		var xs, ys []float64
		for y := 5; y < int(ht)-5; y += 4 {
			for x := 5; x < int(w)-5; x += 4 {
				fx, fy := h.Apply(float64(x), float64(y))
				xs = append(xs, float64(target.GrayAt(x, y).Y))
				ys = append(ys, float64(frame.GrayAt(int(fx+0.5), int(fy+0.5)).Y))
			}
		}
		c := correlation(xs, ys)
		t.Logf("%s: target/frame correlation %.3f", q.Query, c)
		if c < 0.8 {
			t.Errorf("%s: target/frame correlation %.2f, want >= 0.8", q.Query, c)
		}
	}
}

func correlation(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}
