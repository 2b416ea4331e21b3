package crsclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencrs/opencrs/internal/auth"
)

// keys is the fake server's credential store.
type keys struct{}

func (keys) APIKey(_ context.Context, k string) (string, map[string]auth.Perm, bool, error) {
	if k == "ak" {
		return "as", map[string]auth.Perm{"app1": auth.All}, true, nil
	}
	return "", nil, false, nil
}

func (keys) CloudKey(_ context.Context, k string) (string, string, bool, error) {
	if k == "ck" {
		return "app1", "cs", true, nil
	}
	return "", "", false, nil
}

func (keys) AppExists(_ context.Context, app string) (bool, error) { return app == "app1", nil }

// seen is one request as the fake server parsed it.
type seen struct {
	method, path string
	query        map[string]string // signed query parameters
	body         map[string]string // signed body parameters (JSON or multipart text)
	rawBody      map[string]json.RawMessage
	file         []byte // multipart image part
	principal    auth.Principal
	authErr      error
}

// fake is an API server that authenticates every request with internal/auth,
// records it, and answers with reply (statusCode 0 if reply returns nil).
type fake struct {
	t        *testing.T
	now      func() time.Time
	verifier *auth.Verifier
	reply    func(s seen) (http int, code int, result any)

	mu   sync.Mutex
	seen []seen
}

func newFake(t *testing.T, reply func(s seen) (int, int, any)) (*fake, *httptest.Server) {
	f := &fake{t: t, now: time.Now, reply: reply}
	signer, err := auth.NewTokenSigner([]byte("fake-server-token-secret"))
	if err != nil {
		t.Fatal(err)
	}
	f.verifier = &auth.Verifier{Keys: keys{}, Tokens: signer, Now: func() time.Time { return f.now() }}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seen{method: r.Method, path: r.URL.EscapedPath(), query: auth.ParamsFromQuery(r.URL.Query())}
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "multipart/form-data"):
		if err := r.ParseMultipartForm(8 << 20); err != nil {
			f.t.Errorf("multipart: %v", err)
		}
		s.body = auth.ParamsFromMultipart(r.MultipartForm)
		if fh := r.MultipartForm.File["image"]; len(fh) == 1 {
			rd, _ := fh[0].Open()
			s.file, _ = io.ReadAll(rd)
			rd.Close()
		}
	case ct == "application/json":
		b, _ := io.ReadAll(r.Body)
		var err error
		if s.body, err = auth.ParamsFromJSON(b); err != nil {
			f.t.Errorf("JSON body: %v", err)
		}
		json.Unmarshal(b, &s.rawBody)
	}
	params := s.query
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		params = s.body
	}
	s.principal, s.authErr = f.verifier.Authorize(r.Context(), auth.Request{Params: params, Authorization: r.Header.Get("Authorization")}, auth.Read)
	f.mu.Lock()
	f.seen = append(f.seen, s)
	f.mu.Unlock()

	status, code, result := http.StatusOK, 0, any(nil)
	var ae *auth.Error
	if errors.As(s.authErr, &ae) {
		status, code, result = ae.HTTP, ae.Code, ae.Message
	} else if s.authErr != nil {
		status, code, result = 502, 502, s.authErr.Error()
	} else if f.reply != nil {
		status, code, result = f.reply(s)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"statusCode": code, "result": result, "timestamp": f.now().UnixMilli()})
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

func newClient(t *testing.T, srv *httptest.Server, cfg Config) *Client {
	t.Helper()
	cfg.ServerURL, cfg.SearchURL = srv.URL, srv.URL
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var apiKeyConfig = Config{AppID: "app1", APIKey: "ak", APISecret: "as"}

var png1 = []byte("\x89PNG\r\n\x1a\nfake image bytes")

func TestWireFormat(t *testing.T) {
	img64 := base64.StdEncoding.EncodeToString(png1)
	tests := []struct {
		name   string
		call   func(c *Client) error
		method string
		path   string
		inBody bool              // parameters in the body (else the query)
		want   map[string]string // parameters besides authentication
	}{
		{"create", func(c *Client) error {
			_, err := c.CreateTarget(context.Background(), TargetInput{Image: png1, Name: "poster", Size: "20", Meta: "m", Active: new(false), Extra: map[string]string{"color": "red", "name": "ignored"}})
			return err
		}, "POST", "/targets/", true, map[string]string{"image": img64, "name": "poster", "size": "20", "meta": "m", "type": "ImageTarget", "active": "0", "allowSimilar": "0", "color": "red"}},
		{"get", func(c *Client) error { _, err := c.GetTarget(context.Background(), "id/1"); return err },
			"GET", "/target/id%2F1", false, map[string]string{}},
		{"update", func(c *Client) error {
			_, err := c.UpdateTarget(context.Background(), "id1", TargetUpdate{Meta: new(""), Active: new(true)})
			return err
		}, "PUT", "/target/id1", true, map[string]string{"meta": "", "active": "1"}},
		{"delete", func(c *Client) error { _, err := c.DeleteTarget(context.Background(), "id1"); return err },
			"DELETE", "/target/id1", false, map[string]string{}},
		{"delete many", func(c *Client) error { _, err := c.DeleteTargets(context.Background(), []string{"a", "b"}); return err },
			"DELETE", "/targets", false, map[string]string{"targetId": "a,b"}},
		{"list", func(c *Client) error { _, err := c.ListTargets(context.Background(), 2, 50); return err },
			"GET", "/targets/infos", false, map[string]string{"pageNum": "2", "pageSize": "50"}},
		{"count", func(c *Client) error { _, err := c.Count(context.Background()); return err },
			"GET", "/targets/count", false, map[string]string{}},
		{"similar", func(c *Client) error { _, err := c.Similar(context.Background(), png1); return err },
			"POST", "/similar/", true, map[string]string{"image": img64}},
		{"grade", func(c *Client) error { _, err := c.Grade(context.Background(), png1); return err },
			"POST", "/grade/detail", true, map[string]string{"image": img64}},
		{"search", func(c *Client) error {
			_, err := c.Search(context.Background(), png1, SearchOptions{ExpectNumber: 3, NoTracking: true, DeviceID: "dev"})
			return err
		}, "POST", "/search", true, map[string]string{"image": img64, "expectNumber": "3", "notracking": "true", "deviceId": "dev"}},
		{"search multipart", func(c *Client) error {
			_, err := c.Search(context.Background(), png1, SearchOptions{Multipart: true})
			return err
		}, "POST", "/v2/search", true, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFake(t, func(seen) (int, int, any) {
				return 200, 0, map[string]any{"targetId": "id1", "count": 0, "results": []any{}}
			})
			if err := tt.call(newClient(t, srv, apiKeyConfig)); err != nil {
				t.Fatal(err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			s := reqs[0]
			if s.authErr != nil {
				t.Fatalf("server refused the signature: %v", s.authErr)
			}
			if s.method != tt.method || s.path != tt.path {
				t.Errorf("request %s %s, want %s %s", s.method, s.path, tt.method, tt.path)
			}
			got := s.query
			if tt.inBody {
				got = s.body
				if len(s.query) != 0 {
					t.Errorf("query parameters on a body request: %v", s.query)
				}
			}
			for _, k := range []string{"apiKey", "appId", "timestamp", "signature"} {
				if got[k] == "" {
					t.Errorf("authentication field %s missing", k)
				}
				delete(got, k)
			}
			if len(got) != len(tt.want) {
				t.Errorf("parameters %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if tt.path == "/v2/search" && string(s.file) != string(png1) {
				t.Errorf("image part %q", s.file)
			}
			if tt.inBody && tt.path != "/v2/search" && string(s.rawBody["timestamp"][:1]) == `"` {
				t.Errorf("timestamp sent as a string: %s", s.rawBody["timestamp"])
			}
		})
	}
}

// The signature covers the image: a server that signs everything sent must
// accept it without the "retry without image" leniency.
func TestSignatureCoversImage(t *testing.T) {
	f, srv := newFake(t, nil)
	c := newClient(t, srv, apiKeyConfig)
	if _, err := c.Similar(context.Background(), png1); err != nil {
		t.Fatal(err)
	}
	body := f.requests()[0].body
	if !auth.CheckSignature(body, "as", auth.SHA256, body["signature"]) {
		t.Error("signature does not cover every body field")
	}
}

func TestCredentialForms(t *testing.T) {
	f, srv := newFake(t, func(seen) (int, int, any) { return 200, 0, map[string]any{"count": 7} })
	tok, err := f.verifier.Tokens.Issue("ak", map[string]auth.Perm{"app1": auth.Read}, nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		form auth.Form
	}{
		{"api key", apiKeyConfig, auth.FormAPIKey},
		{"cloud key", Config{AppKey: "ck", AppSecret: "cs"}, auth.FormCloudKey},
		{"token", Config{AppID: "app1", Token: tok.Token}, auth.FormToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := newClient(t, srv, tt.cfg).Count(context.Background())
			if err != nil || n != 7 {
				t.Fatalf("Count = %d, %v", n, err)
			}
			reqs := f.requests()
			if p := reqs[len(reqs)-1].principal; p.Form != tt.form || p.AppID != "app1" {
				t.Errorf("principal %+v", p)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		status   int
		code     int
		result   any
		wantCode int
		wantMsg  string
		noMatch  bool
	}{
		{"business error", apiKeyConfig, 200, 404, "Target not found", 404, "Target not found", false},
		{"search no match", apiKeyConfig, 404, 17, map[string]string{"message": "No result: there is no matching."}, 17, "No result: there is no matching.", true},
		{"bad secret", Config{AppID: "app1", APIKey: "ak", APISecret: "wrong"}, 0, 0, nil, 2, "invalid signature", false},
		{"unknown key", Config{AppID: "app1", APIKey: "nope", APISecret: "x"}, 0, 0, nil, 4, "appId (appKey) not exist", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newFake(t, func(seen) (int, int, any) { return tt.status, tt.code, tt.result })
			_, err := newClient(t, srv, tt.cfg).Search(context.Background(), png1, SearchOptions{})
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.wantCode || e.Message != tt.wantMsg {
				t.Fatalf("err = %v, want code %d %q", err, tt.wantCode, tt.wantMsg)
			}
			if errors.Is(err, ErrNoMatch) != tt.noMatch {
				t.Errorf("errors.Is(ErrNoMatch) = %v", !tt.noMatch)
			}
		})
	}
}

func TestNotAnEnvelope(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := newClient(t, srv, apiKeyConfig).Count(context.Background())
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("err = %v, want a transport-level error", err)
	}
}

// A client whose clock is off learns the server's from a 401/3 and retries
// once; a server that keeps refusing is not retried forever.
func TestClockCorrection(t *testing.T) {
	serverNow := time.Now().Add(time.Hour)
	tests := []struct {
		name      string
		serverNow func() time.Time
		wantErr   bool
		wantCalls int
	}{
		{"corrected", func() time.Time { return serverNow }, false, 2},
		{"in sync", time.Now, false, 1},
		{"server clock jumps", func() func() time.Time {
			n := 0
			return func() time.Time { n++; return serverNow.Add(time.Duration(n) * time.Hour) }
		}(), true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFake(t, func(seen) (int, int, any) { return 200, 0, map[string]any{"count": 1} })
			f.now = tt.serverNow
			c := newClient(t, srv, apiKeyConfig)
			_, err := c.Count(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, &Error{HTTP: 401, Code: 3}) {
				t.Errorf("err = %v, want 401/3", err)
			}
			if n := len(f.requests()); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"api key", Config{ServerURL: "http://h", AppID: "a", APIKey: "k", APISecret: "s"}, true},
		{"api key without app for tokens", Config{ServerURL: "http://h", APIKey: "k", APISecret: "s"}, true},
		{"cloud key", Config{SearchURL: "https://h/base/", AppKey: "k", AppSecret: "s"}, true},
		{"token", Config{SearchURL: "http://h", AppID: "a", Token: "t"}, true},
		{"token without app", Config{SearchURL: "http://h", Token: "t"}, false},
		{"secret missing", Config{ServerURL: "http://h", APIKey: "k"}, false},
		{"app secret missing", Config{ServerURL: "http://h", AppKey: "k"}, false},
		{"no credentials", Config{ServerURL: "http://h"}, false},
		{"no URL", Config{APIKey: "k", APISecret: "s"}, false},
		{"bad URL", Config{ServerURL: "localhost:8888", APIKey: "k", APISecret: "s"}, false},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); (err == nil) != tt.ok {
			t.Errorf("%s: New = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestBaseURLPath(t *testing.T) {
	f, srv := newFake(t, func(seen) (int, int, any) { return 200, 0, map[string]any{"count": 1} })
	c, err := New(Config{ServerURL: srv.URL + "/crs/", AppKey: "ck", AppSecret: "cs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Count(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := f.requests()[0].path; p != "/crs/targets/count" {
		t.Errorf("path %q", p)
	}
}
