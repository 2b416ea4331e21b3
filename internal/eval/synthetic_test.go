package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/vision"
)

// preparedBase writes the fixture targets, prepared, as *.oct files: a
// base for synthetic distractors.
func preparedBase(t *testing.T) string {
	t.Helper()
	eng, err := engine.New(engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, name := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/targets", name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := vision.Decode(b, vision.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		tg, err := eng.Prepare(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := tg.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("d%06d.oct", i)), enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunSynthetic(t *testing.T) {
	rep, err := Run(context.Background(), Options{Data: fixtureSet(t), Workers: 1, IngestWorkers: 2,
		Synthetic: 60, SyntheticBase: preparedBase(t)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Synthetic != 60 || rep.SyntheticBase != 3 || rep.SyntheticMsPerTarget <= 0 {
		t.Fatalf("synthetic %d from base %d, %.3f ms each", rep.Synthetic, rep.SyntheticBase, rep.SyntheticMsPerTarget)
	}
	// Mosaics of the targets' own features are hard distractors, yet the
	// fixtures' warped views still find their target.
	if c := rep.ByDifficulty["medium"]; c.N != 2 || c.Right != 2 {
		t.Fatalf("medium = %+v, want 2 right of 2", c)
	}
	for _, m := range []Memory{rep.Memory.AfterIngest, rep.Memory.AfterQueries} {
		if m.HeapBytes == 0 || m.GoSysBytes < m.HeapBytes || m.HeapLiveBytes == 0 {
			t.Fatalf("memory %+v", m)
		}
		if runtime.GOOS == "linux" && (m.RSSBytes == 0 || m.PeakRSSBytes < m.RSSBytes) {
			t.Fatalf("memory %+v", m)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"synthetic":60`, `"rss_bytes"`, `"peak_rss_bytes"`, `"heap_bytes"`, `"heap_live_bytes"`, `"after_ingest"`} {
		if !strings.Contains(string(b), key) {
			t.Fatalf("JSON lacks %s: %s", key, b)
		}
	}
	var sb strings.Builder
	if err := rep.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"SIMULATED: + 60 synthetic", "after ingest", "peak RSS"} {
		if !strings.Contains(sb.String(), s) {
			t.Fatalf("table lacks %q:\n%s", s, sb.String())
		}
	}
}

func TestRunSyntheticNeedsBase(t *testing.T) {
	for _, base := range []string{"", "/nonexistent/opencrs-base"} {
		if _, err := Run(context.Background(), Options{Data: fixtureSet(t), Synthetic: 5, SyntheticBase: base}); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
}

// With shared features the simulated targets are indexed (so they compete
// in retrieval) but verified with inactive base targets' features: the
// fixture views still find their own targets, and nothing else is
// reported.
func TestRunSyntheticSharedFeatures(t *testing.T) {
	rep, err := Run(context.Background(), Options{Data: fixtureSet(t), Workers: 1, IngestWorkers: 2,
		Synthetic: 60, SyntheticBase: preparedBase(t), SyntheticShared: true,
		Engine: engine.Config{FeatureFile: filepath.Join(t.TempDir(), "features")}})
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.ByDifficulty["medium"]; c.N != 2 || c.Right != 2 {
		t.Fatalf("medium = %+v, want 2 right of 2", c)
	}
	if c := rep.ByDifficulty["negative"]; c.Wrong != 0 {
		t.Fatalf("negatives = %+v", c)
	}
}

// With Restart the queries run on an engine restored from its snapshot,
// and find what the original would.
func TestRunRestart(t *testing.T) {
	rep, err := Run(context.Background(), Options{Data: fixtureSet(t), Workers: 1, Restart: true,
		Engine: engine.Config{FeatureFile: filepath.Join(t.TempDir(), "features")}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Restart.RestoreMs <= 0 || rep.Restart.SnapshotBytes <= 0 {
		t.Fatalf("restart figures %+v", rep.Restart)
	}
	if c := rep.ByDifficulty["medium"]; c.N != 2 || c.Right != 2 {
		t.Fatalf("medium after restart = %+v, want 2 right of 2", c)
	}
	if _, err := Run(context.Background(), Options{Data: fixtureSet(t), Restart: true}); err == nil {
		t.Fatal("restart without a feature file accepted")
	}
}
