package engine

import (
	"context"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"testing"
)

// toneGridCells builds a grid of visible cells whose query grey level is
// gain·t + offset, with the cells listed in bad set to a contradicting
// level and the first nInl cells holding inliers.
func toneGridCells(gain, offset float64, flat bool, nInl int, bad func(i int) bool) toneCase {
	n := thumbCells * thumbCells
	tc := toneCase{cells: make([]thumbCell, n), inl: make([]uint16, n)}
	for i := range tc.cells {
		t := float64(40 + (i*37)%180)
		if flat {
			t = 120
		}
		c := thumbCell{t: t, q: gain*t + offset, vis: true}
		if i < nInl {
			tc.inl[i] = 2
		}
		if bad(i) {
			c.q = 255 - c.q // a different picture: light where the target is dark
		}
		tc.cells[i] = c
	}
	return tc
}

// toneCase is the input of toneDisagreement.
type toneCase struct {
	cells []thumbCell
	inl   []uint16
}

func TestToneDisagreement(t *testing.T) {
	none := func(int) bool { return false }
	n := thumbCells * thumbCells
	tests := []struct {
		name     string
		in       toneCase
		ok       bool
		min, max float64
	}{
		{"same picture, dim low-contrast frame", toneGridCells(0.6, -10, false, 20, none), true, 0, 0},
		{"same picture, bright frame", toneGridCells(1.3, 25, false, 20, none), true, 0, 0},
		{"flat target, offset only", toneGridCells(0.8, 30, true, 20, none), true, 0, 0},
		{"30% occluded", toneGridCells(1, 0, false, 20, func(i int) bool { return i >= n-n*3/10 }), true, 0.2, 0.49},
		{"variant: 60% of the picture differs", toneGridCells(1, 0, false, 20, func(i int) bool { return i >= n-n*6/10 }), true, 0.5, 1},
		{"too few inlier cells", toneGridCells(1, 0, false, 2, none), false, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := toneDisagreement(tc.in.cells, tc.in.inl)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && (got < tc.min || got > tc.max) {
				t.Fatalf("disagreement %.2f, want in [%.2f, %.2f]", got, tc.min, tc.max)
			}
		})
	}
}

// TestToneRejectsVariant repaints part of a fixture view of target a, as a
// variant of the same picture would differ from it: the untouched part
// still matches with a genuine homography, and the engine must find the
// target when a quarter of it is covered but not when most of it differs.
func TestToneRejectsVariant(t *testing.T) {
	e := newFixtureEngine(t)
	b, err := os.ReadFile(filepath.Join(fixtures, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth []struct {
		Query      string     `json:"query"`
		Homography [9]float64 `json:"homography"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	if truth[0].Query != "queries/a_warped.jpg" {
		t.Fatalf("fixture order changed: %s", truth[0].Query)
	}
	tw := float64(loadImage(t, "targets/a.jpg").Rect.Dx())
	th := float64(loadImage(t, "targets/a.jpg").Rect.Dy())
	hinv := inverse3(truth[0].Homography)
	for _, tc := range []struct {
		name    string
		from    float64 // share of the target's width, from the right, repainted
		wantHit bool
	}{
		{"untouched", 0, true},
		{"right quarter covered", 0.25, true},
		{"right 60% a different picture", 0.6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := loadImage(t, "queries/a_warped.jpg")
			repaint(img, hinv, tw, th, tw*(1-tc.from))
			res, err := e.Search(context.Background(), img, 3)
			if err != nil {
				t.Fatal(err)
			}
			hit := len(res) > 0 && res[0].ID == "targets/a.jpg"
			if hit != tc.wantHit {
				t.Fatalf("hit = %v (%+v), want %v", hit, res, tc.wantHit)
			}
			if !tc.wantHit && len(res) > 0 {
				t.Fatalf("matched %+v", res)
			}
		})
	}
}

// repaint inverts the frame's pixels that show target points with x ≥ x0.
func repaint(img *image.Gray, hinv [9]float64, tw, th, x0 float64) {
	for y := range img.Rect.Dy() {
		for x := range img.Rect.Dx() {
			u, v := apply(hinv, float64(x), float64(y))
			if u >= x0 && u < tw && v >= 0 && v < th {
				o := y*img.Stride + x
				img.Pix[o] = 255 - img.Pix[o]
			}
		}
	}
}

func inverse3(m [9]float64) [9]float64 {
	a := [9]float64{
		m[4]*m[8] - m[5]*m[7], m[2]*m[7] - m[1]*m[8], m[1]*m[5] - m[2]*m[4],
		m[5]*m[6] - m[3]*m[8], m[0]*m[8] - m[2]*m[6], m[2]*m[3] - m[0]*m[5],
		m[3]*m[7] - m[4]*m[6], m[1]*m[6] - m[0]*m[7], m[0]*m[4] - m[1]*m[3],
	}
	det := m[0]*a[0] + m[1]*a[3] + m[2]*a[6]
	for i := range a {
		a[i] /= det
	}
	return a
}
