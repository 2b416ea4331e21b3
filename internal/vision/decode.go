// Package vision turns uploaded image bytes into the grey images the
// recognizer works on, and extracts local features from them.
package vision

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"
)

// Default limits applied when a Limits field is zero.
const (
	DefaultMaxPixels = 40_000_000
	DefaultMinSide   = 64
)

// Limits bounds the images Decode accepts. Zero fields take the defaults.
type Limits struct {
	MaxPixels int // width*height above this is refused with ErrTooLarge
	MinSide   int // a side shorter than this is refused with ErrTooSmall
}

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MinSide <= 0 {
		l.MinSide = DefaultMinSide
	}
	return l
}

// Errors returned by Decode, possibly wrapped; test with errors.Is.
var (
	// ErrTooLarge: the header announces more pixels than Limits.MaxPixels.
	ErrTooLarge = errors.New("vision: image too large")
	// ErrTooSmall: a side is shorter than Limits.MinSide.
	ErrTooSmall = errors.New("vision: image too small")
	// ErrFormat: not JPEG, PNG or WebP, or corrupt.
	ErrFormat = errors.New("vision: unsupported or corrupt image")
)

// format is a container we accept, recognised by its magic bytes.
type format int

const (
	formatUnknown format = iota
	formatJPEG
	formatPNG
	formatWebP
)

func (f format) String() string {
	switch f {
	case formatJPEG:
		return "jpeg"
	case formatPNG:
		return "png"
	case formatWebP:
		return "webp"
	}
	return "unknown"
}

// sniff dispatches on magic bytes ourselves rather than through image.Decode,
// whose format registry is process-global: a stray blank import elsewhere
// (image/gif, x/image/bmp) must not silently widen what the service accepts.
// GIF and BMP are refused on purpose: they are palette/screen formats that a
// phone camera never produces, and GIF animation would need a policy.
func sniff(data []byte) format {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return formatJPEG
	case len(data) >= 8 && string(data[:8]) == "\x89PNG\r\n\x1a\n":
		return formatPNG
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return formatWebP
	}
	return formatUnknown
}

// Decode decodes a JPEG, PNG or WebP image into grey levels (ITU-R 601 luma).
// The header is checked against lim before any pixel memory is allocated, so
// a small file announcing a huge image costs nothing. JPEG EXIF orientation is
// applied. Transparent pixels are composited over white, as a transparent
// picture displayed or printed on a page would appear.
func Decode(data []byte, lim Limits) (img *image.Gray, err error) {
	lim = lim.withDefaults()
	f := sniff(data)
	if f == formatUnknown {
		return nil, ErrFormat
	}
	// The decoders are not hardened against every malformed input; a panic
	// in one must cost the request, not the process.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: %s decoder panic: %v", ErrFormat, f, r)
		}
	}()

	cfg, err := decodeConfig(f, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", ErrFormat, f, err)
	}
	if err := checkSize(cfg.Width, cfg.Height, lim); err != nil {
		return nil, err
	}

	var m image.Image
	switch f {
	case formatJPEG:
		m, err = jpeg.Decode(bytes.NewReader(data))
	case formatPNG:
		m, err = png.Decode(bytes.NewReader(data))
	case formatWebP:
		m, err = webp.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, f, err)
	}
	// The config is only a promise; refuse a body that disagrees with it.
	if b := m.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%w: %s: header says %dx%d, data is %dx%d",
			ErrFormat, f, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	g := toGray(m, f == formatWebP)
	if f == formatJPEG {
		g = orient(g, exifOrientation(data))
	}
	return g, nil
}

func decodeConfig(f format, data []byte) (image.Config, error) {
	r := bytes.NewReader(data)
	switch f {
	case formatJPEG:
		return jpeg.DecodeConfig(r)
	case formatPNG:
		return png.DecodeConfig(r)
	case formatWebP:
		return webp.DecodeConfig(r)
	}
	return image.Config{}, ErrFormat
}

// checkSize applies lim to a header's dimensions. It divides rather than
// multiplies so that absurd header values cannot overflow.
func checkSize(w, h int, lim Limits) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: empty image %dx%d", ErrFormat, w, h)
	}
	if w > lim.MaxPixels/h {
		return fmt.Errorf("%w: %dx%d exceeds %d pixels", ErrTooLarge, w, h, lim.MaxPixels)
	}
	if w < lim.MinSide || h < lim.MinSide {
		return fmt.Errorf("%w: %dx%d, minimum side is %d", ErrTooSmall, w, h, lim.MinSide)
	}
	return nil
}

// luma is ITU-R 601 luma in 16.16 fixed point, the weights image/color uses,
// so our fast paths agree with color.GrayModel. Inputs are 8- or 16-bit
// channels; the result has the same depth.
func luma(r, g, b uint32) uint32 {
	return (19595*r + 38470*g + 7471*b + 1<<15) >> 16
}

// toGray converts any decoded image to grey with its bounds moved to the
// origin. Concrete types seen from our decoders get loops without interface
// calls; everything else goes through the generic path.
//
// studio says that YCbCr luma is limited range (16–235), as in VP8/WebP,
// unlike JFIF's full range; image/color ignores the difference, which would
// flatten WebP contrast by 14% and lift its blacks.
func toGray(m image.Image, studio bool) *image.Gray {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	switch s := m.(type) {
	case *image.Gray:
		if b.Min == (image.Point{}) {
			return s
		}
		return copyPlane(s.Pix[s.PixOffset(b.Min.X, b.Min.Y):], s.Stride, w, h)
	case *image.YCbCr:
		// JPEG (JFIF) stores full-range luma: Y is the grey image already.
		g := copyPlane(s.Y[s.YOffset(b.Min.X, b.Min.Y):], s.YStride, w, h)
		if studio {
			lut := studioToFull()
			for i, v := range g.Pix {
				g.Pix[i] = lut[v]
			}
		}
		return g
	case *image.NYCbCrA:
		return nycbcraToGray(s, studio)
	}
	dst := image.NewGray(image.Rect(0, 0, w, h))
	switch s := m.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			src := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := dst.Pix[y*dst.Stride : y*dst.Stride+w]
			for x := range row {
				p := src[4*x : 4*x+4 : 4*x+4]
				a := uint32(p[3])
				l := luma(uint32(p[0]), uint32(p[1]), uint32(p[2]))
				row[x] = uint8((l*a + 255*(255-a) + 127) / 255)
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			src := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := dst.Pix[y*dst.Stride : y*dst.Stride+w]
			for x := range row {
				p := src[4*x : 4*x+4 : 4*x+4]
				// Premultiplied: compositing over white just adds the
				// uncovered share of white.
				l := luma(uint32(p[0]), uint32(p[1]), uint32(p[2])) + 255 - uint32(p[3])
				row[x] = uint8(min(l, 255))
			}
		}
	case *image.Paletted:
		var lut [256]uint8
		for i, c := range s.Palette {
			lut[i] = grayOverWhite(c)
		}
		for y := 0; y < h; y++ {
			src := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := dst.Pix[y*dst.Stride : y*dst.Stride+w]
			for x := range row {
				row[x] = lut[src[x]]
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			src := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := dst.Pix[y*dst.Stride : y*dst.Stride+w]
			for x := range row {
				row[x] = src[2*x] // big-endian high byte, as color.GrayModel does
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			src := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := dst.Pix[y*dst.Stride : y*dst.Stride+w]
			for x := range row {
				p := src[8*x : 8*x+8 : 8*x+8]
				r := uint32(p[0])<<8 | uint32(p[1])
				g := uint32(p[2])<<8 | uint32(p[3])
				bl := uint32(p[4])<<8 | uint32(p[5])
				a := uint64(uint32(p[6])<<8 | uint32(p[7]))
				l := (uint64(luma(r, g, bl))*a + 0xffff*(0xffff-a) + 0x7fff) / 0xffff
				row[x] = uint8(l >> 8)
			}
		}
	default:
		for y := 0; y < h; y++ {
			row := dst.Pix[y*dst.Stride : y*dst.Stride+w]
			for x := range row {
				row[x] = grayOverWhite(m.At(b.Min.X+x, b.Min.Y+y))
			}
		}
	}
	return dst
}

// grayOverWhite is the slow, general conversion: any colour model, alpha
// composited over white.
func grayOverWhite(c color.Color) uint8 {
	r, g, b, a := c.RGBA() // 16-bit, premultiplied
	l := luma(r, g, b) + 0xffff - a
	return uint8(min(l, 0xffff) >> 8)
}

// nycbcraToGray handles lossy WebP with alpha: luma is linear in RGB, so
// compositing Y over white equals the luma of the composited colour.
func nycbcraToGray(s *image.NYCbCrA, studio bool) *image.Gray {
	var lut [256]uint8
	if studio {
		lut = studioToFull()
	} else {
		for i := range lut {
			lut[i] = uint8(i)
		}
	}
	b := s.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		yr := s.Y[s.YOffset(b.Min.X, b.Min.Y+y):]
		ar := s.A[s.AOffset(b.Min.X, b.Min.Y+y):]
		row := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		for x := range row {
			a := uint32(ar[x])
			row[x] = uint8((uint32(lut[yr[x]])*a + 255*(255-a) + 127) / 255)
		}
	}
	return dst
}

// copyPlane copies an 8-bit plane into a fresh origin-based grey image, so
// the result never aliases the decoder's (larger, chroma-carrying) buffers.
func copyPlane(pix []uint8, stride, w, h int) *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		copy(dst.Pix[y*w:(y+1)*w], pix[y*stride:y*stride+w])
	}
	return dst
}

// studioToFull maps limited-range luma (16–235) to full range (0–255).
func studioToFull() (lut [256]uint8) {
	for i := range lut {
		v := ((i-16)*255*2 + 219) / (2 * 219)
		lut[i] = uint8(min(max(v, 0), 255))
	}
	return lut
}
