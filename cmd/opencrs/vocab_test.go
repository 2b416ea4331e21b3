package main

import (
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencrs/opencrs/internal/index"
)

// writeTexture writes a PNG of random overlapping rectangles, which gives
// the extractor plenty of corners.
func writeTexture(t *testing.T, path string, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewGray(image.Rect(0, 0, 400, 300))
	for range 150 {
		x0, y0 := r.IntN(400), r.IntN(300)
		x1, y1 := min(400, x0+10+r.IntN(60)), min(300, y0+10+r.IntN(60))
		v := uint8(r.IntN(256))
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.Pix[y*img.Stride+x] = v
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestVocabTrain(t *testing.T) {
	dir := t.TempDir()
	for i := range 4 {
		writeTexture(t, filepath.Join(dir, "img"+string(rune('a'+i))+".png"), uint64(i))
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "v.voc")
	stdout := cli(t, 0, "vocab", "train", "--images", dir, "--out", out, "--k", "4", "--depth", "2", "--per-image", "100")
	if !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("unexpected output:\n%s", stdout)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := index.ReadVocabulary(f)
	if err != nil {
		t.Fatal(err)
	}
	if v.Branching() != 4 || v.Depth() != 2 || v.Words() < 5 {
		t.Fatalf("vocabulary: branching %d, depth %d, %d words", v.Branching(), v.Depth(), v.Words())
	}

	cli(t, 1, "vocab", "train", "--images", dir)
	cli(t, 1, "vocab", "bogus")
}
