package devset

import (
	"context"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencrs/opencrs/internal/eval"
)

// noise is a Source and a Pictures of random textured images.
type noise struct{}

func (noise) img(i int) *image.Gray {
	r := rand.New(rand.NewPCG(uint64(i), 9))
	g := image.NewGray(image.Rect(0, 0, 200, 150))
	for y := 0; y < 150; y++ {
		for x := 0; x < 200; x++ {
			g.Pix[y*200+x] = uint8((x/8+y/8)%2*100 + r.IntN(100))
		}
	}
	return g
}

func (n noise) Distractor(i int) *image.Gray       { return n.img(i) }
func (noise) Len() int                             { return 50 }
func (n noise) Picture(i int) (*image.Gray, error) { return n.img(1000 + i), nil }

func TestWriteLaysOutAnEvalSet(t *testing.T) {
	for _, pics := range []Pictures{nil, noise{}} {
		dir := t.TempDir()
		if err := Write(context.Background(), noise{}, Options{Dir: dir, Targets: 3, Negatives: 2, Seed: 1, Pictures: pics}); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dir, "truth.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		truth, err := eval.ReadTruth(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(truth) != 3*4+2 {
			t.Fatalf("%d queries, want 14", len(truth))
		}
		levels := map[string]int{}
		for _, tr := range truth {
			levels[tr.Difficulty]++
			if _, err := os.Stat(filepath.Join(dir, tr.Query)); err != nil {
				t.Fatal(err)
			}
			if tr.Target != nil {
				if _, err := os.Stat(filepath.Join(dir, *tr.Target)); err != nil {
					t.Fatal(err)
				}
				if len(tr.Corners) != 4 || !strings.HasPrefix(*tr.Target, "targets/") {
					t.Fatalf("bad positive %+v", tr)
				}
			}
		}
		for _, l := range []string{"easy", "medium", "hard", "extreme"} {
			if levels[l] != 3 {
				t.Fatalf("levels %v", levels)
			}
		}
		if levels["negative"] != 2 {
			t.Fatalf("levels %v", levels)
		}
	}
}

func TestPickDoesNotRepeat(t *testing.T) {
	opt := Options{Pictures: noise{}, Seed: 7}
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		p := pick(opt, i)
		if seen[p] {
			t.Fatalf("picture %d picked twice within the pool size", p)
		}
		seen[p] = true
	}
}
