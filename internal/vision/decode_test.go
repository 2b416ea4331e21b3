package vision

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// pattern is the colour image the committed fixtures were made from (see
// testdata/README.md); the in-memory cases use it too.
func pattern(x, y int) (r, g, b uint8) { return uint8(3 * x), uint8(3 * y), uint8(200 - x - y) }

// refGray is the expected grey of an 8-bit colour with straight alpha over
// white, computed in floating point independently of the fixed-point code.
func refGray(r, g, b, a uint8) float64 {
	l := 0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)
	al := float64(a) / 255
	return l*al + 255*(1-al)
}

func patternRGBA(w, h int, alpha func(x, y int) uint8) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := pattern(x, y)
			m.SetNRGBA(x, y, color.NRGBA{r, g, b, alpha(x, y)})
		}
	}
	return m
}

func opaque(int, int) uint8 { return 255 }

// halfClear matches the *alpha* fixtures: transparent left half.
func halfClear(x, _ int) uint8 {
	if x < 40 {
		return 0
	}
	return 255
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeFormats(t *testing.T) {
	const w, h = 80, 64
	rgb := patternRGBA(w, h, opaque)

	grey := image.NewGray(rgb.Bounds())
	gray16 := image.NewGray16(rgb.Bounds())
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(x + 2*y)
			grey.SetGray(x, y, color.Gray{v})
			gray16.SetGray16(x, y, color.Gray16{uint16(v)<<8 | 0x7f})
		}
	}
	greyRef := func(x, y int) float64 { return float64(uint8(x + 2*y)) }

	pal := color.Palette{
		color.NRGBA{0, 0, 0, 255}, color.NRGBA{255, 0, 0, 255},
		color.NRGBA{0, 200, 50, 255}, color.NRGBA{0, 0, 0, 0}, // last: transparent
	}
	paletted := image.NewPaletted(rgb.Bounds(), pal)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			paletted.SetColorIndex(x, y, uint8((x/8+y/8)%4))
		}
	}
	palRef := func(x, y int) float64 {
		c := pal[(x/8+y/8)%4].(color.NRGBA)
		return refGray(c.R, c.G, c.B, c.A)
	}

	// 16-bit with partial alpha: PNG keeps it as NRGBA64.
	rgba64 := image.NewNRGBA64(rgb.Bounds())
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := pattern(x, y)
			a := uint8(3 * x)
			rgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(r) * 257, uint16(g) * 257, uint16(b) * 257, uint16(a) * 257})
		}
	}

	patRef := func(alpha func(x, y int) uint8) func(x, y int) float64 {
		return func(x, y int) float64 {
			r, g, b := pattern(x, y)
			return refGray(r, g, b, alpha(x, y))
		}
	}

	tests := []struct {
		name string
		data []byte
		want func(x, y int) float64
		tol  float64 // max abs error
		mean float64 // max mean abs error
	}{
		{"jpeg grey baseline", encodeJPEG(t, grey, 100), greyRef, 3, 1},
		{"jpeg colour baseline", encodeJPEG(t, rgb, 100), patRef(opaque), 4, 1},
		{"jpeg progressive", readFixture(t, "progressive.jpg"), patRef(opaque), 8, 1.5},
		{"png grey", encodePNG(t, grey), greyRef, 0, 0},
		{"png grey16", encodePNG(t, gray16), greyRef, 0, 0},
		{"png rgb", encodePNG(t, rgb), patRef(opaque), 1, 0.5},
		{"png rgba", encodePNG(t, patternRGBA(w, h, func(x, y int) uint8 { return uint8(x * y) })),
			patRef(func(x, y int) uint8 { return uint8(x * y) }), 1, 0.5},
		{"png paletted with transparency", encodePNG(t, paletted), palRef, 1, 0.5},
		{"png nrgba64", encodePNG(t, rgba64), patRef(func(x, _ int) uint8 { return uint8(3 * x) }), 1, 0.5},
		{"webp lossy", readFixture(t, "lossy.webp"), patRef(opaque), 8, 2},
		{"webp lossless alpha", readFixture(t, "lossless_alpha.webp"), patRef(halfClear), 1, 0.5},
		{"webp lossy alpha", readFixture(t, "lossy_alpha.webp"), patRef(halfClear), 8, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Decode(tc.data, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if g.Rect != image.Rect(0, 0, w, h) {
				t.Fatalf("bounds %v, want %v", g.Rect, image.Rect(0, 0, w, h))
			}
			var worst, sum float64
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					d := math.Abs(float64(g.GrayAt(x, y).Y) - tc.want(x, y))
					sum += d
					if d > worst {
						worst = d
					}
				}
			}
			if mean := sum / (w * h); worst > tc.tol || mean > tc.mean {
				t.Errorf("max error %.1f (tolerance %.1f), mean %.2f (tolerance %.2f)", worst, tc.tol, mean, tc.mean)
			}
		})
	}
}

// TestToGraySubImage checks that every fast path honours a non-zero origin
// and agrees with the generic colour-model path.
func TestToGraySubImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := image.Rect(0, 0, 37, 23)
	sub := image.Rect(5, 3, 30, 20)
	fill := func(set func(x, y int, c color.NRGBA64)) {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				set(x, y, color.NRGBA64{uint16(rng.Uint32()), uint16(rng.Uint32()), uint16(rng.Uint32()), uint16(rng.Uint32())})
			}
		}
	}
	nrgba := image.NewNRGBA(r)
	fill(func(x, y int, c color.NRGBA64) { nrgba.Set(x, y, c) })
	rgba := image.NewRGBA(r)
	fill(func(x, y int, c color.NRGBA64) { rgba.Set(x, y, c) })
	nrgba64 := image.NewNRGBA64(r)
	fill(func(x, y int, c color.NRGBA64) { nrgba64.Set(x, y, c) })
	gray := image.NewGray(r)
	fill(func(x, y int, c color.NRGBA64) { gray.Set(x, y, c) })
	gray16 := image.NewGray16(r)
	fill(func(x, y int, c color.NRGBA64) { gray16.Set(x, y, c) })
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(rng.Uint32())
	}
	nycca := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420)
	// Neutral chroma: with other values the reference path clips RGB and
	// its luma no longer equals Y.
	for i := range nycca.Cb {
		nycca.Cb[i], nycca.Cr[i] = 128, 128
	}
	for i := range nycca.Y {
		nycca.Y[i] = uint8(rng.Uint32())
		nycca.A[i] = uint8(rng.Uint32())
	}
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{10, 20, 30, 40}, color.NRGBA{200, 100, 0, 255}, color.Gray{77}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(rng.IntN(3))
	}
	cmyk := image.NewCMYK(r) // generic path only
	for i := range cmyk.Pix {
		cmyk.Pix[i] = uint8(rng.Uint32())
	}

	type subImager interface {
		SubImage(image.Rectangle) image.Image
	}
	tests := []struct {
		name string
		m    subImager
		tol  int
	}{
		{"nrgba", nrgba, 1}, {"rgba", rgba, 1}, {"nrgba64", nrgba64, 1},
		{"gray", gray, 0}, {"gray16", gray16, 0}, {"ycbcr", ycc, 0},
		{"nycbcra", nycca, 1}, {"paletted", pal, 0}, {"cmyk", cmyk, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m.SubImage(sub)
			g := toGray(m, false)
			if g.Rect != image.Rect(0, 0, sub.Dx(), sub.Dy()) {
				t.Fatalf("bounds %v", g.Rect)
			}
			for y := 0; y < sub.Dy(); y++ {
				for x := 0; x < sub.Dx(); x++ {
					want := int(grayOverWhite(m.At(sub.Min.X+x, sub.Min.Y+y)))
					if _, ok := m.(*image.YCbCr); ok {
						want = int(m.(*image.YCbCr).YCbCrAt(sub.Min.X+x, sub.Min.Y+y).Y)
					}
					if got := int(g.GrayAt(x, y).Y); got < want-tc.tol || got > want+tc.tol {
						t.Fatalf("(%d,%d) = %d, want %d±%d", x, y, got, want, tc.tol)
					}
				}
			}
		})
	}
}

// byteOrder is what binary.LittleEndian and binary.BigEndian both are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// exifSegment builds an APP1 Exif segment whose IFD0 holds a dummy tag and
// then the orientation tag, in the given byte order.
func exifSegment(bo byteOrder, orientation uint16) []byte {
	var tiff []byte
	if bo == binary.LittleEndian {
		tiff = append(tiff, 'I', 'I')
	} else {
		tiff = append(tiff, 'M', 'M')
	}
	tiff = bo.AppendUint16(tiff, 42)
	tiff = bo.AppendUint32(tiff, 8)
	tiff = bo.AppendUint16(tiff, 2)
	// ImageWidth, LONG: must be skipped.
	tiff = bo.AppendUint16(tiff, 0x0100)
	tiff = bo.AppendUint16(tiff, 4)
	tiff = bo.AppendUint32(tiff, 1)
	tiff = bo.AppendUint32(tiff, 640)
	// Orientation, SHORT, value left-aligned in the 4-byte field.
	tiff = bo.AppendUint16(tiff, 0x0112)
	tiff = bo.AppendUint16(tiff, 3)
	tiff = bo.AppendUint32(tiff, 1)
	tiff = bo.AppendUint16(tiff, orientation)
	tiff = bo.AppendUint16(tiff, 0)
	tiff = bo.AppendUint32(tiff, 0) // no next IFD

	seg := []byte{0xFF, 0xE1, 0, 0}
	seg = append(seg, "Exif\x00\x00"...)
	seg = append(seg, tiff...)
	binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)-2))
	return seg
}

// withSegment inserts a marker segment right after SOI.
func withSegment(jpg, seg []byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestDecodeEXIFOrientation(t *testing.T) {
	// Stored image: 128x64, quadrants TL=40 TR=100 BL=160 BR=220.
	const tl, tr, bl, br = 40, 100, 160, 220
	stored := image.NewGray(image.Rect(0, 0, 128, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 128; x++ {
			v := [2][2]uint8{{tl, tr}, {bl, br}}[y/32][x/64]
			stored.SetGray(x, y, color.Gray{v})
		}
	}
	jpg := encodeJPEG(t, stored, 95)

	// What a viewer shows for each orientation, from the EXIF definitions.
	tests := []struct {
		o              uint16
		wide           bool
		tl, tr, bl, br uint8
	}{
		{1, true, tl, tr, bl, br},
		{2, true, tr, tl, br, bl},
		{3, true, br, bl, tr, tl},
		{4, true, bl, br, tl, tr},
		{5, false, tl, bl, tr, br},
		{6, false, bl, tl, br, tr},
		{7, false, br, tr, bl, tl},
		{8, false, tr, br, tl, bl},
	}
	for _, bo := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, tc := range tests {
			t.Run(bo.String()+"/"+string(rune('0'+tc.o)), func(t *testing.T) {
				g, err := Decode(withSegment(jpg, exifSegment(bo, tc.o)), Limits{})
				if err != nil {
					t.Fatal(err)
				}
				w, h := 128, 64
				if !tc.wide {
					w, h = h, w
				}
				if g.Rect.Dx() != w || g.Rect.Dy() != h {
					t.Fatalf("size %v, want %dx%d", g.Rect.Size(), w, h)
				}
				at := func(fx, fy float64) int { return int(g.GrayAt(int(fx*float64(w)), int(fy*float64(h))).Y) }
				got := [4]int{at(.25, .25), at(.75, .25), at(.25, .75), at(.75, .75)}
				want := [4]int{int(tc.tl), int(tc.tr), int(tc.bl), int(tc.br)}
				for i := range got {
					if d := got[i] - want[i]; d < -3 || d > 3 {
						t.Fatalf("quadrants TL,TR,BL,BR = %v, want %v", got, want)
					}
				}
			})
		}
	}
}

func TestEXIFMalformedIgnored(t *testing.T) {
	good := exifSegment(binary.BigEndian, 6)
	mutate := func(f func(s []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	tests := []struct {
		name string
		seg  []byte
	}{
		{"orientation 0", exifSegment(binary.LittleEndian, 0)},
		{"orientation 9", exifSegment(binary.LittleEndian, 9)},
		{"bad byte order", mutate(func(s []byte) []byte { s[10] = 'X'; return s })},
		{"bad magic", mutate(func(s []byte) []byte { s[13] = 41; return s })},
		{"IFD offset past end", mutate(func(s []byte) []byte { s[17] = 0xF0; return s })},
		{"entry count past end", mutate(func(s []byte) []byte { s[18], s[19] = 0xFF, 0xFF; return s })},
		{"tiff truncated", mutate(func(s []byte) []byte {
			s = s[:16]
			binary.BigEndian.PutUint16(s[2:], uint16(len(s)-2))
			return s
		})},
		{"wrong type", mutate(func(s []byte) []byte { s[10+8+2+12+3] = 7; return s })},
		{"not exif", mutate(func(s []byte) []byte { s[4] = 'X'; return s })},
	}
	stored := image.NewGray(image.Rect(0, 0, 128, 64))
	jpg := encodeJPEG(t, stored, 90)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Decode(withSegment(jpg, tc.seg), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if g.Rect.Dx() != 128 {
				t.Fatalf("malformed EXIF changed orientation: %v", g.Rect)
			}
		})
	}
	// The well-formed segment does rotate, so the mutations above are what
	// made the difference.
	g, err := Decode(withSegment(jpg, good), Limits{})
	if err != nil || g.Rect.Dx() != 64 {
		t.Fatalf("good segment: %v, %v", g.Rect, err)
	}
	// The segment is found behind other segments too (Go's encoder starts
	// with DQT; cameras put JFIF APP0 first).
	dqtLen := int(binary.BigEndian.Uint16(jpg[4:]))
	later := append(append(append([]byte{}, jpg[:4+dqtLen]...), good...), jpg[4+dqtLen:]...)
	if g, err := Decode(later, Limits{}); err != nil || g.Rect.Dx() != 64 {
		t.Fatalf("segment after DQT: %v, %v", g.Rect, err)
	}
	// A segment length running past the data must not panic or rotate.
	if o := exifOrientation(append(jpg[:2:2], 0xFF, 0xE1, 0xFF, 0xFF, 'E')); o != 1 {
		t.Fatalf("truncated segment: orientation %d", o)
	}
}

// pngHeader is a PNG signature and a valid IHDR (8-bit grey) claiming w x h,
// followed by IEND: no pixel data at all.
func pngHeader(w, h uint32) []byte {
	chunk := func(typ string, data []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		b = append(b, typ...)
		b = append(b, data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	return append(out, chunk("IEND", nil)...)
}

func TestDecodeBombRefusedBeforeAllocating(t *testing.T) {
	data := pngHeader(10000, 10000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(data, Limits{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// 100 MP would be 100 MB of grey; the header check costs a few KB.
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("allocated %d bytes refusing a bomb", n)
	}
}

func TestCheckSize(t *testing.T) {
	def := Limits{}.withDefaults()
	tests := []struct {
		name string
		w, h int
		lim  Limits
		want error
	}{
		{"40 MP exactly", 8000, 5000, def, nil},
		{"40 MP + 1", 754717, 53, Limits{MaxPixels: DefaultMaxPixels, MinSide: 1}, ErrTooLarge},
		{"just under", 6324, 6325, def, nil},
		{"just over", 6325, 6325, def, ErrTooLarge},
		{"overflowing header", math.MaxInt32, math.MaxInt32, def, ErrTooLarge},
		{"63 wide", 63, 1000, def, ErrTooSmall},
		{"63 high", 1000, 63, def, ErrTooSmall},
		{"64 square", 64, 64, def, nil},
		{"custom max", 101, 100, Limits{MaxPixels: 10000, MinSide: 10}, ErrTooLarge},
		{"custom min", 20, 9, Limits{MaxPixels: 10000, MinSide: 10}, ErrTooSmall},
		{"zero", 0, 100, def, ErrFormat},
		{"negative", -5, 100, def, ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSize(tc.w, tc.h, tc.lim)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("checkSize(%d, %d) = %v, want %v", tc.w, tc.h, err, tc.want)
			}
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	img := func(w, h int) []byte { return encodePNG(t, image.NewGray(image.Rect(0, 0, w, h))) }
	tests := []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"63 px refused", img(63, 100), Limits{}, ErrTooSmall},
		{"64 px accepted", img(64, 64), Limits{}, nil},
		{"huge header", pngHeader(10000, 10000), Limits{}, ErrTooLarge},
		{"40 MP + 1 header", pngHeader(754717, 53), Limits{MinSide: 1}, ErrTooLarge},
		{"custom limit", img(200, 100), Limits{MaxPixels: 19999}, ErrTooLarge},
		{"custom limit exact", img(200, 100), Limits{MaxPixels: 20000}, nil},
		{"custom min side", img(100, 100), Limits{MinSide: 101}, ErrTooSmall},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data, tc.lim)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	jpg := encodeJPEG(t, patternRGBA(80, 64, opaque), 90)
	pngb := encodePNG(t, patternRGBA(80, 64, opaque))
	webp := readFixture(t, "lossy.webp")
	gif := []byte("GIF89a\x50\x00\x40\x00\x00\x00\x00;")
	bmp := append([]byte("BM"), make([]byte, 60)...)
	tests := []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"garbage", []byte("this is not an image at all, just some text")},
		{"gif", gif},
		{"bmp", bmp},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}},
		{"jpeg truncated", jpg[:len(jpg)/2]},
		{"jpeg header only", jpg[:200]},
		{"png signature only", pngb[:8]},
		{"png truncated", pngb[:len(pngb)/2]},
		{"png header only", pngHeader(100, 100)},
		{"webp truncated", webp[:len(webp)/2]},
		{"webp riff only", []byte("RIFF\x00\x00\x00\x00WEBP")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Decode(tc.data, Limits{})
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
			if g != nil {
				t.Fatal("non-nil image with error")
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeJPEG(f, patternRGBA(64, 64, opaque), 50))
	f.Add(withSegment(encodeJPEG(f, image.NewGray(image.Rect(0, 0, 64, 64)), 50), exifSegment(binary.LittleEndian, 6)))
	f.Add(encodePNG(f, patternRGBA(64, 64, halfClear)))
	f.Add(pngHeader(64, 64))
	for _, name := range []string{"progressive.jpg", "lossy.webp", "lossless_alpha.webp", "lossy_alpha.webp"} {
		f.Add(readFixture(f, name))
	}
	// A small pixel budget keeps mutated headers from making each run slow.
	lim := Limits{MaxPixels: 1 << 20, MinSide: 1}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(data, lim)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTooSmall) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if g == nil || g.Rect.Min != (image.Point{}) || len(g.Pix) < g.Rect.Dx()*g.Rect.Dy() {
			t.Fatalf("bad image %v", g)
		}
	})
}

// texture is a deterministic photo-like test image: smooth shading plus
// pseudo-random detail, so codecs and filters do realistic work.
func texture(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			base := 128 + 60*math.Sin(float64(x)/17)*math.Cos(float64(y)/23)
			n := float64(rng.IntN(60)) - 30
			v := uint8(min(max(base+n, 0), 255))
			m.SetRGBA(x, y, color.RGBA{v, uint8(x), uint8(y), 255})
		}
	}
	return m
}

func BenchmarkDecodeJPEG640x480(b *testing.B) {
	data := encodeJPEG(b, texture(640, 480, 1), 85)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
