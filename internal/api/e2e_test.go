package api_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// fixtures is the committed end-to-end set (testdata/README.md).
const fixtures = "../../testdata"

type truthEntry struct {
	Query   string        `json:"query"`
	Target  *string       `json:"target"`
	Corners [4][2]float64 `json:"corners"`
}

func readFixture(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, rel))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// TestEndToEnd creates targets from the fixture images and searches with
// camera-like frames: the right target with corners near the truth, nothing
// for an unrelated picture, nothing once the target is inactive or deleted.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	var truth []truthEntry
	if err := json.Unmarshal(readFixture(t, "truth.json"), &truth); err != nil {
		t.Fatalf("truth.json: %v", err)
	}
	e := newEnv(t)
	c := e.apiKeyCred()
	ids := map[string]string{} // "targets/a.jpg" → targetId
	for _, name := range []string{"a", "b", "c"} {
		rel := "targets/" + name + ".jpg"
		r := e.m("POST", "/targets/", c, map[string]any{"name": name, "image": b64(readFixture(t, rel)), "size": 30})
		e.expect(r, 200, 0)
		ids[rel] = r.obj(t)["targetId"].(string)
	}

	const tolerance = 10.0 // px, per corner, in a 640x480 frame
	positives := 0
	for _, q := range truth {
		img := b64(readFixture(t, q.Query))
		r := e.search(c, map[string]any{"image": img}, nil)
		if q.Target == nil {
			e.expect(r, 404, 17)
			continue
		}
		positives++
		e.expect(r, 200, 0)
		hit := r.obj(t)
		if want := ids[*q.Target]; hit["targetId"] != want {
			t.Fatalf("%s: found %v, want %s (%s)", q.Query, hit["targetId"], want, *q.Target)
		}
		cs, _ := hit["corners"].([]any)
		if len(cs) != 4 {
			t.Fatalf("%s: corners %v", q.Query, hit["corners"])
		}
		for i, p := range cs {
			xy := p.([]any)
			dx, dy := xy[0].(float64)-q.Corners[i][0], xy[1].(float64)-q.Corners[i][1]
			if d := math.Hypot(dx, dy); d > tolerance {
				t.Errorf("%s: corner %d at %v, truth %v (%.1f px off)", q.Query, i, xy, q.Corners[i], d)
			}
		}
	}
	if positives < 2 {
		t.Fatalf("truth.json has %d positive queries, want at least 2", positives)
	}

	// Deactivate the first positive's target, delete the second's.
	var qs []truthEntry
	for _, q := range truth {
		if q.Target != nil {
			qs = append(qs, q)
		}
	}
	off, gone := qs[0], qs[1]
	e.expect(e.m("PUT", "/target/"+ids[*off.Target], c, map[string]any{"active": "0"}), 200, 0)
	e.expect(e.search(c, map[string]any{"image": b64(readFixture(t, off.Query))}, nil), 404, 17)
	e.expect(e.m("DELETE", "/target/"+ids[*gone.Target], c, nil), 200, 0)
	e.expect(e.searchMultipart(c, map[string]any{}, readFixture(t, gone.Query)), 404, 17)

	// Reactivated, it is found again (multipart this time).
	e.expect(e.m("PUT", "/target/"+ids[*off.Target], c, map[string]any{"active": "1"}), 200, 0)
	r := e.searchMultipart(c, map[string]any{}, readFixture(t, off.Query))
	if e.expect(r, 200, 0); r.obj(t)["targetId"] != ids[*off.Target] {
		t.Fatalf("after reactivation: %v", r)
	}
}
