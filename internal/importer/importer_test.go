package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencrs/opencrs/internal/auth"
	"github.com/opencrs/opencrs/pkg/crsclient"
)

type keys struct{}

func (keys) APIKey(context.Context, string) (string, map[string]auth.Perm, bool, error) {
	return "secret", map[string]auth.Perm{"app": auth.All}, true, nil
}
func (keys) CloudKey(context.Context, string) (string, string, bool, error) {
	return "", "", false, nil
}
func (keys) AppExists(context.Context, string) (bool, error) { return true, nil }

// server is a fake management API: it checks each create's signature and
// answers according to fail (target name → statusCode, HTTP 200; 401 codes
// are sent with HTTP 401).
type server struct {
	mu    sync.Mutex
	names []string
	fail  map[string]int
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	params, err := auth.ParamsFromJSON(body)
	status, code, result := 200, 0, any(nil)
	v := &auth.Verifier{Keys: keys{}}
	if err != nil || r.URL.Path != "/targets/" {
		status, code, result = 400, 414, "bad request"
	} else if _, err := v.Authorize(r.Context(), auth.Request{Params: params}, auth.Write); err != nil {
		status, code, result = 401, 2, err.Error()
	} else if c := s.fail[params["name"]]; c != 0 {
		code, result = c, "refused"
		if c < 100 {
			status = 401
		}
	} else {
		s.mu.Lock()
		s.names = append(s.names, params["name"])
		s.mu.Unlock()
		result = map[string]string{"targetId": "id-" + params["name"], "name": params["name"]}
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"statusCode": code, "result": result, "timestamp": time.Now().UnixMilli()})
}

func (s *server) uploaded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(slices.Values(s.names))
}

func setup(t *testing.T, fail map[string]int, files ...string) (dir string, s *server, c *crsclient.Client) {
	dir = t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("image "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	s = &server{fail: fail}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c, err := crsclient.New(crsclient.Config{ServerURL: srv.URL, AppID: "app", APIKey: "key", APISecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, s, c
}

func TestImportAndResume(t *testing.T) {
	dir, s, c := setup(t, map[string]int{"bad": 417, "dup": 403},
		"a.jpg", "b.PNG", "c.webp", "bad.jpeg", "dup.jpg", "notes.txt", ".hidden.jpg")
	var prog bytes.Buffer
	sum, err := Run(context.Background(), c, Options{Dir: dir, Workers: 3, Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Found: 5, Uploaded: 3, Failures: []Failure{
		{File: "bad.jpeg", HTTP: 200, Code: 417, Message: "refused"},
		{File: "dup.jpg", HTTP: 200, Code: 403, Message: "refused"},
	}}
	if !equalSummary(sum, want) {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	if got := s.uploaded(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("uploaded %v", got)
	}
	done, err := readJournal(filepath.Join(dir, JournalName))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a.jpg": "id-a", "b.PNG": "id-b", "c.webp": "id-c"}; !maps.Equal(done, want) {
		t.Errorf("journal %v, want %v", done, want)
	}
	if !strings.Contains(prog.String(), "5/5 100%  2 failed") {
		t.Errorf("progress output %q", prog.String())
	}

	// The rerun retries only the failures; now they pass.
	s.fail = nil
	sum, err = Run(context.Background(), c, Options{Dir: dir, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Summary{Found: 5, Skipped: 3, Uploaded: 2}); !equalSummary(sum, want) {
		t.Errorf("rerun summary %+v, want %+v", sum, want)
	}
	if got := s.uploaded(); !slices.Equal(got, []string{"a", "b", "bad", "c", "dup"}) {
		t.Errorf("uploaded %v", got)
	}

	// Nothing left: nothing sent.
	sum, err = Run(context.Background(), c, Options{Dir: dir})
	if err != nil || sum.Skipped != 5 || sum.Uploaded != 0 || len(s.uploaded()) != 5 {
		t.Errorf("third run %+v, %v, server saw %v", sum, err, s.uploaded())
	}
}

func TestImportJournalElsewhereAndTruncated(t *testing.T) {
	dir, s, c := setup(t, nil, "a.jpg", "b.jpg", "c.jpg")
	j := filepath.Join(t.TempDir(), "journal.jsonl")
	// a.jpg was done; the writer died in the middle of b.jpg's line.
	if err := os.WriteFile(j, []byte(`{"file":"a.jpg","targetId":"id-a"}`+"\n"+`{"file":"b.jpg","targ`), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), c, Options{Dir: dir, Journal: j, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Summary{Found: 3, Skipped: 1, Uploaded: 2}); !equalSummary(sum, want) {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	if got := s.uploaded(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("uploaded %v", got)
	}
	done, err := readJournal(j)
	if err != nil || len(done) != 3 {
		t.Errorf("journal %v, %v", done, err)
	}
	if _, err := os.Stat(filepath.Join(dir, JournalName)); err == nil {
		t.Error("journal written into the directory despite Journal option")
	}
}

func TestImportAbortsOnAuthFailure(t *testing.T) {
	dir, s, c := setup(t, map[string]int{"a": 2, "b": 2, "c": 2}, "a.jpg", "b.jpg", "c.jpg")
	sum, err := Run(context.Background(), c, Options{Dir: dir, Workers: 1})
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("err = %v, want ErrAborted", err)
	}
	if sum.Uploaded != 0 || len(sum.Failures) != 1 || sum.Failures[0].Code != 2 || sum.Failures[0].HTTP != 401 {
		t.Errorf("summary %+v", sum)
	}
	if len(s.uploaded()) != 0 {
		t.Errorf("uploaded %v", s.uploaded())
	}
}

func TestImportCancelled(t *testing.T) {
	dir, _, c := setup(t, nil, "a.jpg")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, err := Run(ctx, c, Options{Dir: dir})
	if !errors.Is(err, context.Canceled) || sum.Uploaded != 0 || len(sum.Failures) != 0 {
		t.Errorf("Run = %+v, %v", sum, err)
	}
}

func TestImportMissingDir(t *testing.T) {
	if _, err := Run(context.Background(), nil, Options{Dir: filepath.Join(t.TempDir(), "nope")}); err == nil {
		t.Error("Run on a missing directory succeeded")
	}
}

func equalSummary(a, b Summary) bool {
	return a.Found == b.Found && a.Skipped == b.Skipped && a.Uploaded == b.Uploaded &&
		slices.Equal(a.Failures, b.Failures)
}

func TestTargetName(t *testing.T) {
	tests := []struct{ file, want string }{
		{"poster.jpg", "poster"},
		{"dir/poster.final.png", "poster.final"},
		{"café au lait.webp", "caf_ au lait"},
		{"tab\there.jpg", "tab_here"},
		{".jpg", "_"},
		{strings.Repeat("x", 70) + ".jpg", strings.Repeat("x", 64)},
		{strings.Repeat("é", 70) + ".jpg", strings.Repeat("_", 64)},
	}
	for _, tt := range tests {
		if got := TargetName(tt.file); got != tt.want {
			t.Errorf("TargetName(%q) = %q, want %q", tt.file, got, tt.want)
		}
	}
}

func TestIsImage(t *testing.T) {
	for name, want := range map[string]bool{"a.jpg": true, "a.JPEG": true, "a.png": true, "a.webp": true, "a.gif": false, "a": false, "jpg": false} {
		if IsImage(name) != want {
			t.Errorf("IsImage(%q) = %v", name, !want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		name         string
		terminal     bool
		elapsed      time.Duration
		done, failed int
		want         string
	}{
		{"start", false, 0, 0, 0, "0/100   0%"},
		{"midway", false, 10 * time.Second, 48, 2, "50/100  50%  2 failed  5.0/s  ETA 10s"},
		{"done", false, 20 * time.Second, 100, 0, "100/100 100%  5.0/s"},
		{"bar", true, 10 * time.Second, 50, 0, "[############            ] 50/100  50%  5.0/s  ETA 10s"},
	}
	for _, tt := range tests {
		p := newProgress(io.Discard, tt.terminal, 0, func() time.Time { return start }, 100, 0)
		if got := p.line(start.Add(tt.elapsed), tt.done, tt.failed); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Off a terminal, lines are written at most once per interval, plus the
// final one; on a terminal the line is redrawn with \r.
func TestProgressThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	var b bytes.Buffer
	p := newProgress(&b, false, 5*time.Second, clock, 10, 2)
	for i := 1; i <= 10; i++ {
		now = now.Add(time.Second)
		p.update(i, 0)
	}
	p.finish(10, 0)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// skip notice, first update (1 s), 5 s later (6 s), final.
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "skipping 2") || strings.Contains(b.String(), "\r") {
		t.Errorf("output %q", b.String())
	}

	b.Reset()
	p = newProgress(&b, true, 0, clock, 2, 0)
	p.update(1, 0)
	p.finish(2, 0)
	if got := b.String(); strings.Count(got, "\r") != 2 || !strings.HasSuffix(got, "\n") {
		t.Errorf("terminal output %q", got)
	}
}
