package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencrs/opencrs/internal/api/apitest"
	"github.com/opencrs/opencrs/pkg/crsclient"
)

// TestIndexBuild loads a folder offline, reruns (resuming: nothing twice),
// adds to it, then serves the data directory: the engine is restored from
// the build's snapshot, not re-indexed, and every target is searchable.
func TestIndexBuild(t *testing.T) {
	ctx := context.Background()
	data, imgs := t.TempDir(), t.TempDir()
	write := func(name string, seed uint64) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(imgs, name), apitest.TextureJPEG(seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for seed := uint64(1); seed <= 6; seed++ {
		write(fmt.Sprintf("t%d.jpg", seed), seed)
	}
	os.WriteFile(filepath.Join(imgs, "notes.txt"), []byte("not an image"), 0o644)

	build := func(want int, extra ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		args := append([]string{"index", "build", "--data", data, "--meta", "m", "--workers", "3"}, extra...)
		if code := run(ctx, append(args, imgs), &out, &errb); code != want {
			t.Fatalf("index build: exit %d, want %d\nstdout: %s\nstderr: %s", code, want, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}

	out, _ := build(0)
	creds := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m := printed.FindStringSubmatch(sc.Text()); m != nil {
			creds[m[1]] = m[2]
		}
	}
	if creds["appId"] == "" || creds["apiKey"] == "" || creds["apiSecret"] == "" {
		t.Fatalf("first build on an empty store printed no credentials:\n%s", out)
	}
	if !strings.Contains(out, "6 images: 6 uploaded, 0 already imported, 0 failed") ||
		!strings.Contains(out, "index build: 6 targets in ") || !strings.Contains(out, "holds 6 targets") {
		t.Fatalf("first build summary:\n%s", out)
	}

	// A rerun skips what the journal holds and uses the same database.
	out, errOut := build(0)
	if !strings.Contains(out, "6 images: 0 uploaded, 6 already imported") || !strings.Contains(out, "index build: 0 targets") ||
		!strings.Contains(out, "database "+creds["appId"]+" (default") || strings.Contains(out, "appSecret") {
		t.Fatalf("rerun:\nstdout: %s\nstderr: %s", out, errOut)
	}

	// New files: one more target, and a copy of t1 the duplicate check
	// refuses as the API does; --allow-similar then takes it.
	write("t7.jpg", 7)
	write("copy.jpg", 1)
	out, _ = build(1)
	if !strings.Contains(out, "8 images: 1 uploaded, 6 already imported, 1 failed") ||
		!strings.Contains(out, "copy.jpg: 403 Target already exists") {
		t.Fatalf("build with a duplicate:\n%s", out)
	}
	out, _ = build(0, "--allow-similar")
	if !strings.Contains(out, "8 images: 1 uploaded, 7 already imported, 0 failed") || !strings.Contains(out, "holds 8 targets") {
		t.Fatalf("build --allow-similar:\n%s", out)
	}

	bin := buildBinary(t)
	s := startServer(t, bin, data)
	log := s.log(`"msg":"engine restored from snapshot"`, `"replayed":0`, `"msg":"targets loaded","targets":8`)
	if !strings.Contains(log, `"msg":"engine restored from snapshot"`) || !strings.Contains(log, `"replayed":0`) ||
		!strings.Contains(log, `"msg":"targets loaded","targets":8`) {
		t.Fatalf("serve did not restore the build's snapshot as is:\n%s", log)
	}
	c, err := crsclient.New(crsclient.Config{ServerURL: s.mgmt, SearchURL: s.reco,
		AppID: creds["appId"], APIKey: creds["apiKey"], APISecret: creds["apiSecret"]})
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.ListTargets(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range page.Targets {
		names = append(names, tg.Name)
		if tg.Meta != "m" || tg.Active != "1" || tg.DetectableRate < 0 {
			t.Errorf("target %+v", tg)
		}
	}
	slices.Sort(names)
	if want := []string{"copy", "t1", "t2", "t3", "t4", "t5", "t6", "t7"}; !slices.Equal(names, want) {
		t.Fatalf("targets %v, want %v", names, want)
	}
	for seed := uint64(2); seed <= 7; seed++ {
		res, err := c.Search(ctx, apitest.TextureJPEG(seed), crsclient.SearchOptions{NoTracking: true})
		if err != nil || res.Target.Name != fmt.Sprint("t", seed) {
			t.Fatalf("search t%d: %+v, %v", seed, res, err)
		}
	}
	if tg, err := c.GetTarget(ctx, page.Targets[0].TargetID); err != nil || tg.TrackingImage == "" {
		t.Fatalf("get: %+v, %v", tg, err)
	}

	// While the server holds the store, the build refuses clearly.
	var o, e bytes.Buffer
	if code := run(ctx, []string{"index", "build", "--data", data, imgs}, &o, &e); code == 0 || !strings.Contains(e.String(), "locked") {
		t.Fatalf("build on a live store: exit %d\n%s%s", code, o.String(), e.String())
	}
}
