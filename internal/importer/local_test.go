package importer

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencrs/opencrs/pkg/crsclient"
)

// InProcess hands the handler the request a server would, and the client
// the handler's response, without a socket.
func TestInProcess(t *testing.T) {
	var gotBody, gotPath, gotRemote string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody, gotPath, gotRemote = string(b), r.URL.Path, r.RemoteAddr
		w.Header().Set("X-Test", "1")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "short and stout")
	})
	c := InProcess(h)
	res, err := c.Post("http://in-process/targets/", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTeapot || string(body) != "short and stout" || res.Header.Get("X-Test") != "1" ||
		res.ContentLength != int64(len(body)) {
		t.Errorf("response %d %q %v", res.StatusCode, body, res.Header)
	}
	if gotBody != `{"a":1}` || gotPath != "/targets/" || gotRemote == "" {
		t.Errorf("handler saw %q %q %q", gotPath, gotBody, gotRemote)
	}
	// GET without body; a cancelled context never reaches the handler.
	gotPath = ""
	if res, err := c.Get("http://in-process/ping"); err != nil || res.StatusCode != http.StatusTeapot || gotPath != "/ping" {
		t.Errorf("GET: %v, %v, %q", res, err, gotPath)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gotPath = ""
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://in-process/x", nil)
	if _, err := c.Do(req); err == nil || gotPath != "" {
		t.Errorf("cancelled request: %v, handler saw %q", err, gotPath)
	}
}

// The importer over InProcess against the fake API of importer_test.go.
func TestImportInProcess(t *testing.T) {
	dir, s, _ := setup(t, nil, "a.jpg", "b.jpg")
	c, err := crsclient.New(crsclient.Config{ServerURL: "http://in-process", AppID: "app", APIKey: "key", APISecret: "secret",
		HTTPClient: InProcess(s)})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), c, Options{Dir: dir, Workers: 2})
	if err != nil || sum.Uploaded != 2 || len(s.uploaded()) != 2 {
		t.Fatalf("Run = %+v, %v; server saw %v", sum, err, s.uploaded())
	}
}
