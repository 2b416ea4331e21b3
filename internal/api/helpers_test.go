package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencrs/opencrs/internal/api"
	"github.com/opencrs/opencrs/internal/api/apitest"
	"github.com/opencrs/opencrs/internal/auth"
	"github.com/opencrs/opencrs/internal/store"
)

// clock is the service's time in tests: it moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const adminToken = "test-admin-token"

// env is a running service with one database and credentials for it.
type env struct {
	t     testing.TB
	clock *clock
	store *store.Bolt
	svc   *api.Service
	mgmt  *httptest.Server
	reco  *httptest.Server
	app   store.App
	key   store.APIKey // READ|WRITE on app
}

type envOpt func(*api.Config)

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "opencrs.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := api.Config{Store: st, AdminToken: adminToken, Now: clk.Now}
	for _, o := range opts {
		o(&cfg)
	}
	ctx := context.Background()
	svc, err := api.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: clk, store: st, svc: svc,
		mgmt: httptest.NewServer(svc.Management()), reco: httptest.NewServer(svc.Recognition())}
	t.Cleanup(func() {
		e.mgmt.Close()
		e.reco.Close()
		svc.Close(ctx)
		st.Close()
	})
	e.app = e.newApp(store.ModeCall)
	e.key = e.newKey(map[string]store.Perm{e.app.ID: store.PermRead | store.PermWrite})
	return e
}

func (e *env) newApp(mode store.Mode) store.App {
	e.t.Helper()
	a, err := e.svc.CreateApp(context.Background(), api.CreateAppRequest{Name: "test", Mode: string(mode)})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) newKey(grants map[string]store.Perm) store.APIKey {
	e.t.Helper()
	k := store.NewAPIKey("test", grants, e.clock.Now())
	if err := e.store.CreateAPIKey(context.Background(), k); err != nil {
		e.t.Fatal(err)
	}
	return k
}

func (e *env) setLimits(appID string, l store.Limits) {
	e.t.Helper()
	if _, err := e.store.UpdateApp(context.Background(), appID, func(a *store.App) error { a.Limits = l; return nil }); err != nil {
		e.t.Fatal(err)
	}
}

// cred is how a request authenticates.
type cred struct {
	form      auth.Form
	key       string // apiKey or appKey
	secret    string
	appID     string // appId parameter (API key, token)
	token     string
	noSign    bool
	badSecret bool
}

func (e *env) apiKeyCred() cred {
	return cred{form: auth.FormAPIKey, key: e.key.Key, secret: e.key.Secret, appID: e.app.ID}
}

func cloudCred(a store.App) cred {
	return cred{form: auth.FormCloudKey, key: a.AppKey, secret: a.AppSecret}
}

// text renders a parameter value the way the API signs it.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	panic(fmt.Sprintf("text(%T)", v))
}

// sign adds c's authentication parameters to params and returns the
// Authorization header value (tokens).
func (e *env) sign(c cred, params map[string]any) string {
	now := e.clock.Now()
	switch c.form {
	case auth.FormNone:
		return ""
	case auth.FormToken:
		if c.appID != "" {
			params["appId"] = c.appID
		}
		return c.token
	case auth.FormAPIKey:
		params["apiKey"] = c.key
		if c.appID != "" {
			params["appId"] = c.appID
		}
		if _, ok := params["timestamp"]; !ok {
			params["timestamp"] = now.UnixMilli()
		}
	case auth.FormCloudKey:
		params["appKey"] = c.key
		if c.appID != "" {
			params["appId"] = c.appID
		}
		if _, ok := params["timestamp"]; !ok {
			params["timestamp"] = now.UnixMilli()
		}
	case auth.FormLegacy:
		params["appKey"] = c.key
		if _, ok := params["date"]; !ok {
			params["date"] = now.UTC().Format("2006-01-02T15:04:05.000Z")
		}
	}
	if c.noSign {
		return ""
	}
	flat := map[string]string{}
	for k, v := range params {
		flat[k] = text(v)
	}
	h := auth.SHA256
	if c.form == auth.FormLegacy {
		h = auth.SHA1
	}
	secret := c.secret
	if c.badSecret {
		secret += "x"
	}
	params["signature"] = auth.Sign(flat, secret, h)
	return ""
}

// resp is a decoded envelope.
type resp struct {
	HTTP       int
	Header     http.Header
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result"`
	Timestamp  *int64          `json:"timestamp"`
	raw        []byte
}

func (r resp) String() string { return fmt.Sprintf("HTTP %d %s", r.HTTP, r.raw) }

func (r resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Result, &m); err != nil {
		t.Fatalf("result is not an object: %v", r)
	}
	return m
}

func (r resp) msg() string {
	var s string
	if json.Unmarshal(r.Result, &s) == nil {
		return s
	}
	var m struct{ Message string }
	json.Unmarshal(r.Result, &m)
	return m.Message
}

func (e *env) expect(r resp, httpStatus, code int) {
	e.t.Helper()
	if r.HTTP != httpStatus || r.StatusCode != code {
		e.t.Fatalf("want HTTP %d statusCode %d, got %v", httpStatus, code, r)
	}
}

func (e *env) roundTrip(req *http.Request) resp {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := resp{HTTP: res.StatusCode, Header: res.Header, raw: body}
	if err := json.Unmarshal(body, &r); err != nil {
		e.t.Fatalf("%s %s: response is not JSON: HTTP %d %q", req.Method, req.URL.Path, res.StatusCode, body)
	}
	if r.Timestamp == nil {
		e.t.Fatalf("%s %s: no timestamp in %s", req.Method, req.URL.Path, body)
	}
	return r
}

// call sends params as a JSON body (POST, PUT) or query (GET, DELETE),
// signed with c.
func (e *env) call(base, method, path string, c cred, params map[string]any) resp {
	e.t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	authz := e.sign(c, params)
	var req *http.Request
	var err error
	if method == http.MethodGet || method == http.MethodDelete && params["targetId"] == nil {
		q := url.Values{}
		for k, v := range params {
			q.Set(k, text(v))
		}
		req, err = http.NewRequest(method, base+path+"?"+q.Encode(), nil)
	} else {
		body, _ := json.Marshal(params)
		req, err = http.NewRequest(method, base+path, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return e.roundTrip(req)
}

func (e *env) m(method, path string, c cred, params map[string]any) resp {
	e.t.Helper()
	return e.call(e.mgmt.URL, method, path, c, params)
}

// search sends POST /search with c.
func (e *env) search(c cred, params map[string]any, hdr map[string]string) resp {
	e.t.Helper()
	authz := e.sign(c, params)
	body, _ := json.Marshal(params)
	req, _ := http.NewRequest(http.MethodPost, e.reco.URL+"/search", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return e.roundTrip(req)
}

// searchMultipart sends POST /v2/search with the image as a file part.
func (e *env) searchMultipart(c cred, fields map[string]any, img []byte) resp {
	e.t.Helper()
	e.sign(c, fields)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, text(v))
	}
	fw, _ := mw.CreateFormFile("image", "query.jpg")
	fw.Write(img)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.reco.URL+"/v2/search", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.roundTrip(req)
}

func texture(seed uint64, w, h int) *image.Gray { return apitest.Texture(seed, w, h) }

func jpegBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// textureB64 is texture(seed) as a base64 JPEG, the usual upload.
func textureB64(t testing.TB, seed uint64) string {
	return b64(jpegBytes(t, texture(seed, 480, 360)))
}

// createTarget creates a target from texture(seed) and returns its id.
func (e *env) createTarget(seed uint64, extra map[string]any) string {
	e.t.Helper()
	p := map[string]any{"name": fmt.Sprintf("target-%d", seed), "image": textureB64(e.t, seed)}
	for k, v := range extra {
		p[k] = v
	}
	r := e.m(http.MethodPost, "/targets/", e.apiKeyCred(), p)
	e.expect(r, 200, 0)
	id, _ := r.obj(e.t)["targetId"].(string)
	if id == "" {
		e.t.Fatalf("no targetId in %v", r)
	}
	return id
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

func repeat(n int) string { return strings.Repeat("a", n) }
