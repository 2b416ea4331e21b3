package main

import (
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGenTargets(t *testing.T) {
	train := t.TempDir()
	pool := filepath.Join(train, "images")
	if err := os.Mkdir(pool, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		writeTexture(t, filepath.Join(pool, "img"+string(rune('a'+i))+".png"), uint64(i))
	}
	// The default pool is $OPENCRS_TRAIN_DIR/images, as for eval and devset.
	t.Setenv("OPENCRS_TRAIN_DIR", train)
	out := filepath.Join(t.TempDir(), "d")

	stdout := cli(t, 0, "gen-targets", "--n", "3", "--out", out, "--workers", "2")
	if !strings.HasPrefix(stdout, "wrote 3 distractors (0 already present) to "+out) || !strings.Contains(stdout, "images/s") {
		t.Fatalf("summary: %q", stdout)
	}
	want := []string{"d000000.jpg", "d000001.jpg", "d000002.jpg"}
	if got := names(t, out); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	first, err := os.ReadFile(filepath.Join(out, "d000001.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	m, format, err := image.Decode(bytes.NewReader(first))
	if err != nil || format != "jpeg" {
		t.Fatalf("d000001.jpg: %v, format %q", err, format)
	}
	if long := max(m.Bounds().Dx(), m.Bounds().Dy()); long < 480 || long > 1000 {
		t.Errorf("d000001.jpg is %v", m.Bounds().Size())
	}

	// A rerun resumes: existing files are kept, the rest written, and a
	// partial file left by an interrupted run is removed.
	if err := os.WriteFile(filepath.Join(out, ".partial-d000003.jpg-123"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "d000000.jpg"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout = cli(t, 0, "gen-targets", "--n", "5", "--out", out, "--pool", pool)
	if !strings.HasPrefix(stdout, "wrote 2 distractors (3 already present)") {
		t.Fatalf("resumed summary: %q", stdout)
	}
	want = append(want, "d000003.jpg", "d000004.jpg")
	if got := names(t, out); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "d000000.jpg")); string(b) != "kept" {
		t.Error("an existing file was rewritten")
	}

	// Deterministic: the same index gives the same bytes, whatever the
	// range and the number of workers.
	again := t.TempDir()
	cli(t, 0, "gen-targets", "--n", "1", "--from", "1", "--out", again, "--pool", pool, "--workers", "1")
	if b, _ := os.ReadFile(filepath.Join(again, "d000001.jpg")); !bytes.Equal(b, first) {
		t.Error("d000001.jpg differs between runs")
	}

	png := t.TempDir()
	cli(t, 0, "gen-targets", "--n", "1", "--from", "12", "--format", "png", "--out", png, "--pool", pool)
	if got := names(t, png); !slices.Equal(got, []string{"d000012.png"}) {
		t.Fatalf("png files %v", got)
	}

	for _, args := range [][]string{
		{"--out", out},                  // no --n
		{"--n", "0", "--out", out},      // n not positive
		{"--n", "2"},                    // no --out
		{"--n", "2", "--out", out, "x"}, // stray argument
		{"--n", "2", "--out", out, "--from", "-1"},
		{"--n", "2", "--out", out, "--format", "gif"},
		{"--n", "2", "--out", out, "--pool", filepath.Join(train, "missing")},
		{"--bogus"},
	} {
		cli(t, 1, append([]string{"gen-targets"}, args...)...)
	}
}

// names lists the files of dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
