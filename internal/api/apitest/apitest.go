// Package apitest holds helpers shared by the service's tests: synthetic,
// feature-rich target images that need no fixture files.
package apitest

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
)

// Texture draws a deterministic image of random grey boxes and discs over
// noise: plenty of corners for the engine, and unrelated to the texture of
// any other seed, so distinct seeds never match each other.
func Texture(seed uint64, w, h int) *image.Gray {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(96 + r.IntN(64))
	}
	for n := 0; n < 160; n++ {
		x0, y0 := r.IntN(w), r.IntN(h)
		bw, bh := 8+r.IntN(w/6), 8+r.IntN(h/6)
		g := color.Gray{Y: uint8(r.IntN(256))}
		disc := r.IntN(3) == 0
		for y := y0; y < min(h, y0+bh); y++ {
			for x := x0; x < min(w, x0+bw); x++ {
				if disc {
					dx := float64(x-x0-bw/2) / float64(bw/2+1)
					dy := float64(y-y0-bh/2) / float64(bh/2+1)
					if dx*dx+dy*dy > 1 {
						continue
					}
				}
				img.SetGray(x, y, g)
			}
		}
	}
	return img
}

// JPEG encodes img at quality 92; it panics only if encoding to memory
// fails, which image/jpeg does not do for a valid image.
func JPEG(img image.Image) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// TextureJPEG is Texture(seed, 480, 360) as JPEG bytes, the usual upload.
func TextureJPEG(seed uint64) []byte { return JPEG(Texture(seed, 480, 360)) }
