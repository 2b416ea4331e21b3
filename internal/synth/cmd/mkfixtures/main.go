// Command mkfixtures regenerates the repository's end-to-end fixtures in
// testdata/ from images of the training pool (scripts/fetch-training-images.sh):
//
//	targets/a.jpg, b.jpg, c.jpg   three targets, long side <= 480, JPEG q85
//	queries/a_warped.jpg          640x480 frame of a, medium difficulty
//	queries/b_warped.jpg          the same for b
//	queries/none.jpg              a frame showing a picture that is no target
//	truth.json                    true target, corners and homography per query
//
// Usage (from the repository root):
//
//	go run ./internal/synth/cmd/mkfixtures -pool .cache/training/images \
//		-a FILE -b FILE -c FILE -bg FILE -none FILE -out testdata
//
// The output is deterministic for the same pool files.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"log"
	"os"
	"path/filepath"

	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
	_ "image/png" // pool formats

	"github.com/opencrs/opencrs/internal/synth"
	"github.com/opencrs/opencrs/internal/vision"
)

// query is one line of truth.json.
type query struct {
	Query      string            `json:"query"`
	Target     *string           `json:"target"` // null for a negative
	Difficulty string            `json:"difficulty"`
	Corners    *[4][2]float64    `json:"corners"` // TL, TR, BR, BL in frame pixels
	Homography *[9]float64       `json:"homography,omitempty"`
	Params     synth.FrameParams `json:"params"`
}

func main() {
	pool := flag.String("pool", ".cache/training/images", "training pool directory")
	a := flag.String("a", "", "pool file for target a")
	b := flag.String("b", "", "pool file for target b")
	c := flag.String("c", "", "pool file for target c")
	bg := flag.String("bg", "", "pool file for the query backgrounds")
	none := flag.String("none", "", "pool file for the negative query's picture")
	out := flag.String("out", "testdata", "output directory")
	flag.Parse()
	for _, f := range []*string{a, b, c, bg, none} {
		if *f == "" {
			flag.Usage()
			os.Exit(2)
		}
	}
	if err := run(*pool, *out, [3]string{*a, *b, *c}, *bg, *none); err != nil {
		log.Fatalf("mkfixtures: %v", err)
	}
}

func run(pool, out string, targets [3]string, bgFile, noneFile string) error {
	for _, d := range []string{"targets", "queries"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return err
		}
	}
	// Targets are re-read from the JPEG we write, so the truth refers to
	// exactly the pixels other tests will load.
	// They keep their colour, as uploads would; queries are grey frames.
	var stored [3]*image.Gray
	for i, name := range targets {
		img, err := loadColour(filepath.Join(pool, name), 480)
		if err != nil {
			return err
		}
		path := filepath.Join(out, "targets", string(rune('a'+i))+".jpg")
		if stored[i], err = writeJPEG(path, img, 85); err != nil {
			return err
		}
	}
	bg, err := load(filepath.Join(pool, bgFile), 1024)
	if err != nil {
		return err
	}
	other, err := load(filepath.Join(pool, noneFile), 480)
	if err != nil {
		return err
	}

	var truth []query
	frame := func(name string, target *image.Gray, seed uint64, targetName *string) error {
		p := synth.RandomParams("medium", seed)
		p.W, p.H = 640, 480 // fixtures are landscape, like most eval queries
		// The file itself is the JPEG step: one generation, as from a phone.
		q := p.JPEGQuality
		p.JPEGQuality = 0
		f, h, corners := synth.Frame(target, bg, p)
		p.JPEGQuality = q
		if _, err := writeJPEG(filepath.Join(out, "queries", name), f, q); err != nil {
			return err
		}
		e := query{Query: "queries/" + name, Target: targetName, Difficulty: "medium", Params: p}
		if targetName != nil {
			hh := [9]float64(h)
			e.Corners, e.Homography = &corners, &hh
		} else {
			e.Difficulty = "negative"
		}
		truth = append(truth, e)
		return nil
	}
	ta, tb := "targets/a.jpg", "targets/b.jpg"
	if err := frame("a_warped.jpg", stored[0], 11, &ta); err != nil {
		return err
	}
	if err := frame("b_warped.jpg", stored[1], 12, &tb); err != nil {
		return err
	}
	if err := frame("none.jpg", other, 13, nil); err != nil {
		return err
	}
	js, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "truth.json"), append(js, '\n'), 0o644)
}

// load decodes a pool image and shrinks it to maxSide.
func load(path string, maxSide int) (*image.Gray, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := vision.Decode(data, vision.Limits{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vision.Resize(g, maxSide), nil
}

// loadColour decodes a pool image in colour and shrinks it to maxSide with
// a Catmull-Rom filter (x/image/draw averages over the source footprint
// when shrinking, so it does not alias).
func loadColour(path string, maxSide int) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := m.Bounds()
	long := max(b.Dx(), b.Dy())
	if long <= maxSide {
		return m, nil
	}
	w, h := b.Dx()*maxSide/long, b.Dy()*maxSide/long
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Rect, m, b, xdraw.Src, nil)
	return dst, nil
}

// writeJPEG writes img and returns it as decoded back from the file.
func writeJPEG(path string, img image.Image, quality int) (*image.Gray, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return vision.Decode(buf.Bytes(), vision.Limits{})
}
