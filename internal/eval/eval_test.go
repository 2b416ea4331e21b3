package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencrs/opencrs/internal/engine"
)

// fixtureSet lays the repository's end-to-end fixtures out like the public
// evaluation set, with truth.jsonl in its format.
func fixtureSet(t *testing.T) string {
	t.Helper()
	src := "../../testdata"
	dir := t.TempDir()
	for _, sub := range []string{"targets", "queries"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		ents, err := os.ReadDir(filepath.Join(src, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(src, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, sub, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var truth []Truth
	b, err := os.ReadFile(filepath.Join(src, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, tr := range truth {
		l, _ := json.Marshal(tr)
		lines = append(lines, string(l))
	}
	if err := os.WriteFile(filepath.Join(dir, "truth.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunOnFixtures(t *testing.T) {
	rep, err := Run(context.Background(), Options{Data: fixtureSet(t), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Targets != 3 || rep.Queries != 3 {
		t.Fatalf("targets %d queries %d, want 3 and 3", rep.Targets, rep.Queries)
	}
	if c := rep.ByDifficulty["medium"]; c.N != 2 || c.Right != 2 {
		t.Fatalf("medium = %+v, want 2 right of 2", c)
	}
	if c := rep.ByDifficulty["negative"]; c.N != 1 || c.Right != 1 || c.Wrong != 0 {
		t.Fatalf("negative = %+v, want answered none", c)
	}
	if rep.CornerError.Median <= 0 || rep.CornerError.Median > 5 {
		t.Fatalf("median corner error %.2f px", rep.CornerError.Median)
	}
	if len(rep.Results) != 3 || rep.Latency.P50 <= 0 || rep.IndexBytesPerTarget <= 0 {
		t.Fatalf("report incomplete: %+v", rep)
	}
	var sb strings.Builder
	if err := rep.WriteTable(&sb); err != nil || !strings.Contains(sb.String(), "negative") {
		t.Fatalf("table: %v\n%s", err, sb.String())
	}
	// The JSON carries the promised keys.
	b, _ := json.Marshal(rep)
	for _, k := range []string{`"targets"`, `"distractors"`, `"queries"`, `"by_difficulty"`, `"latency_ms"`,
		`"extract_ms"`, `"corner_error_px"`, `"ingest_ms_per_target"`, `"index_bytes_per_target"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s", k)
		}
	}
}

func TestReadTruth(t *testing.T) {
	in := `{"query":"q/1.jpg","target":"t/1.jpg","difficulty":"hard","corners":[[0,0],[1,0],[1,1],[0,1]]}

{"query":"q/2.jpg","target":null,"difficulty":"negative"}
`
	got, err := ReadTruth(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Target == nil || *got[0].Target != "t/1.jpg" || got[1].Target != nil || len(got[1].Corners) != 0 {
		t.Fatalf("got %+v", got)
	}
	for _, bad := range []string{`{"query":`, `{"target":"x"}`} {
		if _, err := ReadTruth(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	if p.P50 != 50 || p.P95 != 95 || p.P99 != 99 {
		t.Fatalf("percentiles %+v", p)
	}
	if percentiles(nil) != (Percentiles{}) {
		t.Fatal("empty input")
	}
}

func TestFitLogisticSeparates(t *testing.T) {
	var s []Sample
	for i := 0; i < 200; i++ {
		x := float64(i%20) / 20
		s = append(s, Sample{X: []float64{x}, Right: x > 0.5})
	}
	w := FitLogistic(s, 1e-3, 30)
	p := func(x float64) float64 { return 1 / (1 + math.Exp(-(w[0] + w[1]*x))) }
	if p(0.9) < 0.9 || p(0.1) > 0.1 {
		t.Fatalf("weights %v: p(0.9)=%.2f p(0.1)=%.2f", w, p(0.9), p(0.1))
	}
}

// TestSkipUnusable adds a blank target, which the engine refuses, with a
// query of it: the run fails unless told to leave both out.
func TestSkipUnusable(t *testing.T) {
	dir := fixtureSet(t)
	blank := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range blank.Pix {
		blank.Pix[i] = 128
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, blank); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"targets/blank.png", "queries/blank_view.png"} {
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "truth.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"query": "queries/blank_view.png", "target": "targets/blank.png", "difficulty": "easy"}`)
	f.Close()

	if _, err := Run(context.Background(), Options{Data: dir, Workers: 1}); !errors.Is(err, engine.ErrNotGradable) {
		t.Fatalf("without SkipUnusable: %v, want ErrNotGradable", err)
	}
	rep, err := Run(context.Background(), Options{Data: dir, Workers: 1, SkipUnusable: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Targets != 3 || rep.Queries != 3 || rep.DroppedQueries != 1 || !slices.Equal(rep.Unusable, []string{"targets/blank.png"}) {
		t.Fatalf("targets %d queries %d dropped %d unusable %v, want 3, 3, 1, [targets/blank.png]",
			rep.Targets, rep.Queries, rep.DroppedQueries, rep.Unusable)
	}
	if _, ok := rep.ByDifficulty["easy"]; ok {
		t.Errorf("the blank target's query was counted: %+v", rep.ByDifficulty)
	}
	var sb strings.Builder
	if err := rep.WriteTable(&sb); err != nil || !strings.Contains(sb.String(), "left out: 1 targets") {
		t.Errorf("table does not say what was left out:\n%s", sb.String())
	}
}
