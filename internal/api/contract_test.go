package api_test

// The contract suite: a real in-process service over HTTP, one request per
// endpoint and status code of /work/shared/spec/API.md, limits just below and
// just above. Tests that create targets use the real engine.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencrs/opencrs/internal/api"
	"github.com/opencrs/opencrs/internal/auth"
	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/store"
)

func TestPingAndUnknownPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, base := range []string{e.mgmt.URL, e.reco.URL} {
		for _, path := range []string{"/ping", "/ping/"} {
			r := e.call(base, http.MethodGet, path, cred{}, nil)
			e.expect(r, 200, 0)
			if r.Header.Get("X-Request-Id") == "" {
				t.Errorf("%s: no X-Request-Id", path)
			}
		}
	}
	for _, tc := range []struct{ base, method, path string }{
		{e.mgmt.URL, http.MethodGet, "/nope"},
		{e.mgmt.URL, http.MethodPatch, "/targets/"},
		{e.mgmt.URL, http.MethodPost, "/search"}, // search lives on the recognition listener
		{e.reco.URL, http.MethodPost, "/targets/"},
		{e.reco.URL, http.MethodGet, "/search"},
		{e.mgmt.URL, http.MethodGet, "/target/"}, // id missing
	} {
		r := e.call(tc.base, tc.method, tc.path, cred{}, nil)
		e.expect(r, 404, 404)
		if !strings.Contains(r.msg(), strings.TrimSuffix(tc.path, "/")) {
			t.Errorf("%s %s: message %q does not name the path", tc.method, tc.path, r.msg())
		}
	}
}

func TestRequestIDEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.mgmt.URL+"/ping", nil)
	req.Header.Set("X-Request-Id", "client-chosen-42")
	if r := e.roundTrip(req); r.Header.Get("X-Request-Id") != "client-chosen-42" {
		t.Fatalf("X-Request-Id = %q", r.Header.Get("X-Request-Id"))
	}
}

func TestAuthForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.newApp(store.ModeCall)
	readOnly := e.newKey(map[string]store.Perm{e.app.ID: store.PermRead})
	good := e.apiKeyCred()
	legacy := cloudCred(e.app)
	legacy.form = auth.FormLegacy

	for _, tc := range []struct {
		name       string
		method     string
		c          cred
		params     map[string]any
		http, code int
	}{
		{"api key", "GET", good, nil, 200, 0},
		{"cloud key", "GET", cloudCred(e.app), nil, 200, 0},
		{"legacy date SHA-1", "GET", legacy, nil, 200, 0},
		{"timestamp as JSON string", "DELETE", good, map[string]any{"targetId": "none", "timestamp": fmt.Sprint(e.clock.Now().UnixMilli())}, 200, 0},
		{"timestamp as JSON number", "DELETE", good, map[string]any{"targetId": "none", "timestamp": e.clock.Now().UnixMilli()}, 200, 0},
		{"no credentials", "GET", cred{}, nil, 401, 1},
		{"malformed api key", "GET", cred{form: auth.FormAPIKey, key: "bad key", secret: "x", appID: e.app.ID}, nil, 401, 1},
		{"malformed appId", "GET", cred{form: auth.FormAPIKey, key: e.key.Key, secret: e.key.Secret, appID: "a b"}, nil, 401, 1},
		{"api key without appId", "GET", cred{form: auth.FormAPIKey, key: e.key.Key, secret: e.key.Secret}, nil, 401, 1},
		{"bad signature", "GET", cred{form: auth.FormAPIKey, key: e.key.Key, secret: e.key.Secret, appID: e.app.ID, badSecret: true}, nil, 401, 2},
		{"bad cloud signature", "GET", cred{form: auth.FormCloudKey, key: e.app.AppKey, secret: e.app.AppSecret, badSecret: true}, nil, 401, 2},
		{"missing signature", "GET", cred{form: auth.FormAPIKey, key: e.key.Key, secret: e.key.Secret, appID: e.app.ID, noSign: true}, nil, 401, 2},
		{"unparseable timestamp", "GET", good, map[string]any{"timestamp": "yesterday"}, 401, 3},
		{"skew just inside -5 min", "GET", good, map[string]any{"timestamp": e.clock.Now().Add(-5*time.Minute + time.Second).UnixMilli()}, 200, 0},
		{"skew just outside -5 min", "GET", good, map[string]any{"timestamp": e.clock.Now().Add(-5*time.Minute - time.Second).UnixMilli()}, 401, 3},
		{"skew just inside +5 min", "GET", good, map[string]any{"timestamp": e.clock.Now().Add(5*time.Minute - time.Second).UnixMilli()}, 200, 0},
		{"skew just outside +5 min", "GET", good, map[string]any{"timestamp": e.clock.Now().Add(5*time.Minute + time.Second).UnixMilli()}, 401, 3},
		{"legacy date skewed", "GET", legacy, map[string]any{"date": e.clock.Now().Add(-6 * time.Minute).Format(time.RFC3339)}, 401, 3},
		{"unknown api key", "GET", cred{form: auth.FormAPIKey, key: "nosuchkey", secret: "x", appID: e.app.ID}, nil, 401, 4},
		{"unknown app key", "GET", cred{form: auth.FormCloudKey, key: "nosuchkey", secret: "x"}, nil, 401, 4},
		{"unknown appId", "GET", cred{form: auth.FormAPIKey, key: e.key.Key, secret: e.key.Secret, appID: "nosuchapp"}, nil, 401, 4},
		{"api key not granted this database", "GET", cred{form: auth.FormAPIKey, key: e.key.Key, secret: e.key.Secret, appID: other.ID}, nil, 403, 6},
		{"cloud key of another database", "GET", cred{form: auth.FormCloudKey, key: other.AppKey, secret: other.AppSecret, appID: e.app.ID}, nil, 403, 6},
		{"read-only key may read", "GET", cred{form: auth.FormAPIKey, key: readOnly.Key, secret: readOnly.Secret, appID: e.app.ID}, nil, 200, 0},
		{"read-only key may not write", "DELETE", cred{form: auth.FormAPIKey, key: readOnly.Key, secret: readOnly.Secret, appID: e.app.ID}, map[string]any{"targetId": "x"}, 403, 6},
		{"bad token", "GET", cred{form: auth.FormToken, token: "garbage", appID: e.app.ID}, nil, 401, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r resp
			switch tc.method {
			case "GET":
				r = e.m("GET", "/targets/count", tc.c, tc.params)
			case "DELETE":
				r = e.m("DELETE", "/targets", tc.c, tc.params)
			}
			e.expect(r, tc.http, tc.code)
		})
	}
}

func TestSignatureVector(t *testing.T) {
	t.Parallel()
	// API.md §2's vector, sent to POST /token/v2 (which authenticates the API
	// key alone, so the signed set is exactly the vector's).
	e := newEnv(t)
	k := store.APIKey{Key: "test_api_key", Secret: "test_api_secret", Grants: map[string]store.Perm{e.app.ID: store.PermRead}}
	if err := e.store.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	e.clock.t = time.UnixMilli(1514736000000)
	const sig = "bf67314ff91f39952a267fb4bf3f9ed2b53f813cdcfba610f9d8643038a17326"
	for _, tc := range []struct {
		sig  string
		code int
	}{{sig, 0}, {strings.ToUpper(sig), 0}, {sig[:63] + "7", 2}} {
		params := map[string]any{"foo": "bar", "egg": "spam", "timestamp": 1514736000000, "apiKey": "test_api_key", "signature": tc.sig}
		body, _ := json.Marshal(params)
		req, _ := http.NewRequest(http.MethodPost, e.mgmt.URL+"/token/v2", bytes.NewReader(body))
		r := e.roundTrip(req)
		if r.StatusCode != tc.code {
			t.Errorf("signature %s: %v, want statusCode %d", tc.sig, r, tc.code)
		}
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.newApp(store.ModeCall)
	k := e.newKey(map[string]store.Perm{e.app.ID: store.PermRead | store.PermWrite, other.ID: store.PermRead})
	kc := cred{form: auth.FormAPIKey, key: k.Key, secret: k.Secret}

	issue := func(params map[string]any) resp {
		t.Helper()
		return e.m("POST", "/token/v2", kc, params)
	}
	r := issue(map[string]any{"expires": 60})
	e.expect(r, 200, 0)
	res := r.obj(t)
	tok, _ := res["token"].(string)
	if tok == "" || res["apiKey"] != k.Key || res["expires"] != float64(60) {
		t.Fatalf("token result %v", res)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(res["expiration"])); err != nil {
		t.Fatalf("expiration %v: %v", res["expiration"], err)
	}
	use := func(token, appID, method string) resp {
		t.Helper()
		c := cred{form: auth.FormToken, token: token, appID: appID}
		if method == "GET" {
			return e.m("GET", "/targets/count", c, nil)
		}
		return e.m("DELETE", "/targets", c, map[string]any{"targetId": "none"})
	}
	e.expect(use(tok, e.app.ID, "GET"), 200, 0)
	e.expect(use(tok, e.app.ID, "DELETE"), 200, 0)
	e.expect(use("Bearer "+tok, e.app.ID, "GET"), 200, 0)
	e.expect(use(tok, other.ID, "GET"), 200, 0)
	e.expect(use(tok, other.ID, "DELETE"), 403, 6) // the key itself only reads there

	// Forged: payload or signature altered.
	payload, mac, _ := strings.Cut(tok, ".")
	e.expect(use(payload+"."+strings.Repeat("A", len(mac)), e.app.ID, "GET"), 401, 6)
	e.expect(use(payload[:len(payload)-2]+"xx."+mac, e.app.ID, "GET"), 401, 6)

	// Narrowed by an ACL: READ on app only.
	acl := fmt.Sprintf(`[{"service":"ecs:crs","effect":"Allow","resource":[%q],"permission":["READ"]}]`, e.app.ID)
	r = issue(map[string]any{"expires": 60, "acl": acl})
	e.expect(r, 200, 0)
	narrow := r.obj(t)["token"].(string)
	e.expect(use(narrow, e.app.ID, "GET"), 200, 0)
	e.expect(use(narrow, e.app.ID, "DELETE"), 403, 6)
	e.expect(use(narrow, other.ID, "GET"), 403, 6)

	// An ACL cannot widen: WRITE on other is not the key's to give.
	acl = fmt.Sprintf(`[{"service":"ecs:crs","effect":"Allow","resource":[%q],"permission":["READ","WRITE"]}]`, other.ID)
	if r = issue(map[string]any{"expires": 60, "acl": acl}); r.StatusCode == 0 {
		e.expect(use(r.obj(t)["token"].(string), other.ID, "DELETE"), 403, 6)
	}
	e.expect(issue(map[string]any{"expires": 60, "acl": "not json"}), 200, 414)
	e.expect(issue(map[string]any{"expires": "soon"}), 200, 414)
	e.expect(issue(map[string]any{"expires": 0}), 200, 414)
	// Tokens are issued to API keys only.
	e.expect(e.m("POST", "/token/v2", cloudCred(e.app), map[string]any{"expires": 60}), 401, 1)

	// Expired.
	e.clock.Add(61 * time.Second)
	e.expect(use(tok, e.app.ID, "GET"), 401, 6)

	// Dies with its API key.
	r = issue(map[string]any{"expires": 600})
	live := r.obj(t)["token"].(string)
	e.expect(use(live, e.app.ID, "GET"), 200, 0)
	if err := e.store.DeleteAPIKey(context.Background(), k.Key); err != nil {
		t.Fatal(err)
	}
	e.expect(use(live, e.app.ID, "GET"), 401, 6)
}

func TestRequestParsing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.apiKeyCred()
	// Not JSON at all, or a form body: HTTP 400 with 414.
	for _, tc := range []struct{ ct, body string }{
		{"application/json", "{not json"},
		{"application/json", `["an","array"]`},
		{"application/x-www-form-urlencoded", "name=x"},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.mgmt.URL+"/targets/", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		e.expect(e.roundTrip(req), 400, 414)
	}
	// Duplicate query keys: the first wins, for the handler and the signature.
	params := map[string]any{"pageSize": 2}
	e.sign(c, params)
	q := fmt.Sprintf("pageSize=2&pageSize=500&apiKey=%s&appId=%s&timestamp=%v&signature=%s&signature=bogus",
		c.key, c.appID, params["timestamp"], params["signature"])
	req, _ := http.NewRequest(http.MethodGet, e.mgmt.URL+"/targets/infos/?"+q, nil)
	r := e.roundTrip(req)
	e.expect(r, 200, 0)
	if r.obj(t)["pageSize"] != float64(2) {
		t.Fatalf("pageSize = %v, want the first value 2", r.obj(t)["pageSize"])
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.apiKeyCred()
	// Just below the 8 MiB body limit the request is read and judged on its
	// content (the image is then over its own 2 MiB limit: 200/422); just
	// above, the body itself is refused with 413/422.
	mk := func(total int) []byte {
		// Signed without the image (API.md's Decision), so padding the image
		// to the exact size leaves the signature valid.
		params := map[string]any{"name": "big"}
		e.sign(c, params)
		params["image"] = ""
		body, _ := json.Marshal(params)
		params["image"] = strings.Repeat("A", total-len(body))
		body, _ = json.Marshal(params)
		if len(body) != total {
			t.Fatalf("body %d bytes, want %d", len(body), total)
		}
		return body
	}
	for _, tc := range []struct {
		size, http, code int
	}{
		{api.DefaultMaxBody, 200, 422},
		{api.DefaultMaxBody + 1, 413, 422},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.mgmt.URL+"/targets", bytes.NewReader(mk(tc.size)))
		req.Header.Set("Content-Type", "application/json")
		e.expect(e.roundTrip(req), tc.http, tc.code)
		// Chunked: no Content-Length, so the limit bites while reading.
		req, _ = http.NewRequest(http.MethodPost, e.reco.URL+"/search", struct{ *bytes.Reader }{bytes.NewReader(mk(tc.size))})
		req.Header.Set("Content-Type", "application/json")
		r := e.roundTrip(req)
		if tc.http == 413 {
			e.expect(r, 413, 422)
			if r.msg() == "" {
				t.Errorf("search error result lacks message: %v", r)
			}
		} else if r.HTTP == 413 {
			t.Errorf("body of %d bytes refused: %v", tc.size, r)
		}
	}
	// Multipart, chunked, over the limit.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("image", "big.jpg")
	fw.Write(make([]byte, api.DefaultMaxBody))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.reco.URL+"/v2/search", struct{ *bytes.Reader }{bytes.NewReader(buf.Bytes())})
	req.Header.Set("Content-Type", mw.FormDataContentType())
	e.expect(e.roundTrip(req), 413, 422)
}

func TestConcurrentWritesAndSearches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createTarget(100, nil)
	query := textureB64(t, 100)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := map[string]any{"name": fmt.Sprint("c", i), "image": textureB64(t, uint64(101+i))}
			if r := e.m("POST", "/targets", e.apiKeyCred(), p); r.StatusCode != 0 {
				t.Errorf("concurrent create: %v", r)
			}
		}()
	}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.search(e.apiKeyCred(), map[string]any{"image": query}, nil)
			if r.StatusCode != 0 || r.obj(t)["targetId"] != id {
				t.Errorf("search during writes: %v", r)
			}
		}()
	}
	wg.Wait()
	if n := e.count(); n != 4 {
		t.Fatalf("count %d, want 4", n)
	}
}

// pngHeader returns a PNG whose header announces w×h pixels but holds no
// pixel data: enough for the size checks, which read only the header.
func pngHeader(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 0 // 8-bit grey
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func pngBytes(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.apiKeyCred()
	img := textureB64(t, 1)
	const mib2 = 2 << 20
	for _, tc := range []struct {
		name   string
		params map[string]any
		code   int
	}{
		{"name missing", map[string]any{"image": img}, 414},
		{"name empty", map[string]any{"name": "", "image": img}, 414},
		{"name 65 chars", map[string]any{"name": repeat(65), "image": img}, 414},
		{"name not printable", map[string]any{"name": "tab\there", "image": img}, 414},
		{"name not ASCII", map[string]any{"name": "café", "image": img}, 414},
		{"size not a number", map[string]any{"name": "n", "size": "big", "image": img}, 414},
		{"size zero", map[string]any{"name": "n", "size": 0, "image": img}, 414},
		{"active 2", map[string]any{"name": "n", "active": "2", "image": img}, 414},
		{"type wrong", map[string]any{"name": "n", "type": "CloudTarget", "image": img}, 414},
		{"image missing", map[string]any{"name": "n"}, 414},
		{"image bad base64", map[string]any{"name": "n", "image": "!!!not base64!!!"}, 414},
		{"image 2 MiB + 1 decoded", map[string]any{"name": "n", "image": b64(make([]byte, mib2+1))}, 422},
		{"image exactly 2 MiB, not an image", map[string]any{"name": "n", "image": b64(make([]byte, mib2))}, 427},
		{"meta 2 MiB + 1", map[string]any{"name": "n", "meta": repeat(mib2 + 1), "image": img}, 422},
		{"image over 40 megapixels", map[string]any{"name": "n", "image": b64(pngHeader(6400, 6400))}, 422},
		{"image not decodable", map[string]any{"name": "n", "image": b64([]byte("GIF89a not really"))}, 427},
		{"image 63 px side", map[string]any{"name": "n", "image": b64(pngBytes(t, texture(2, 63, 200)))}, 427},
		{"image flat: no features", map[string]any{"name": "n", "image": b64(jpegBytes(t, image.NewGray(image.Rect(0, 0, 300, 300))))}, 417},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.expect(e.m("POST", "/targets", c, tc.params), 200, tc.code)
		})
	}
	if n := e.count(); n != 0 {
		t.Fatalf("%d targets after refused creates", n)
	}
}

func (e *env) count() int {
	e.t.Helper()
	r := e.m("GET", "/targets/count", e.apiKeyCred(), nil)
	e.expect(r, 200, 0)
	return int(r.obj(e.t)["count"].(float64))
}

func TestTargetLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.apiKeyCred()
	const mib2 = 2 << 20
	// Limits just below: 64-char name, 2 MiB meta, numeric size, extra field.
	r := e.m("POST", "/targets/", c, map[string]any{
		"name": repeat(64), "image": textureB64(t, 10), "size": 15.5, "meta": repeat(mib2),
		"type": "ImageTarget", "active": "1", "color": "blue",
	})
	e.expect(r, 200, 0)
	res := r.obj(t)
	id := res["targetId"].(string)
	nested, _ := res["target"].(map[string]any)
	if nested == nil || nested["targetId"] != id {
		t.Fatalf("result.target.targetId missing: %v", res["target"])
	}
	for k, want := range map[string]any{"name": repeat(64), "size": "15.5", "type": "ImageTarget", "active": "1", "color": "blue"} {
		if res[k] != want || nested[k] != want {
			t.Errorf("%s = %v / %v, want %v", k, res[k], nested[k], want)
		}
	}
	if len(res["meta"].(string)) != mib2 {
		t.Errorf("meta not kept")
	}
	if !hasKey(res, "trackingImage") || hasKey(nested, "trackingImage") {
		t.Errorf("create: trackingImage must be flat only")
	}
	for _, k := range []string{"modified", "detectableRate", "trackableRate"} {
		if !hasKey(res, k) {
			t.Errorf("missing %s", k)
		}
	}
	// Shrink the meta again: every later response would carry 2 MiB of it.
	e.expect(e.m("PUT", "/target/"+id, c, map[string]any{"meta": "short"}), 200, 0)

	// A second, inactive target, size as a string, modified later.
	e.clock.Add(time.Second)
	id2 := e.createTarget(11, map[string]any{"active": 0, "size": "20"})

	// Get.
	r = e.m("GET", "/target/"+id, c, nil)
	e.expect(r, 200, 0)
	if got := r.obj(t); got["targetId"] != id || !hasKey(got, "trackingImage") || got["target"].(map[string]any)["targetId"] != id {
		t.Fatalf("get: %v", r)
	}
	e.expect(e.m("GET", "/target/nosuchid", c, nil), 200, 404)

	// Lists: newest first, no trackingImage, page bounds.
	r = e.m("GET", "/targets/infos", c, map[string]any{"pageNum": 1, "pageSize": 1})
	e.expect(r, 200, 0)
	lst := r.obj(t)
	ts := lst["targets"].([]any)
	if lst["total"] != float64(2) || len(ts) != 1 || ts[0].(map[string]any)["targetId"] != id2 || hasKey(ts[0].(map[string]any), "trackingImage") {
		t.Fatalf("infos page 1: total %v, %d targets, first %v", lst["total"], len(ts), ts[0].(map[string]any)["targetId"])
	}
	r = e.m("GET", "/targets/infos/", c, map[string]any{"pageNum": "2", "pageSize": "1"})
	if ts := r.obj(t)["targets"].([]any); len(ts) != 1 || ts[0].(map[string]any)["targetId"] != id {
		t.Fatalf("infos page 2: %v", r)
	}
	for _, tc := range []struct {
		params map[string]any
		code   int
	}{
		{map[string]any{"pageSize": 0}, 414},
		{map[string]any{"pageSize": 101}, 414},
		{map[string]any{"pageSize": 100}, 0},
		{map[string]any{"pageNum": 0}, 414},
		{map[string]any{"pageSize": "x"}, 414},
	} {
		e.expect(e.m("GET", "/targets/infos", c, tc.params), 200, tc.code)
	}
	var seen []string
	for last := ""; ; {
		p := map[string]any{"limit": 1}
		if last != "" {
			p["last"] = last
		}
		r = e.m("GET", "/targets/", c, p)
		e.expect(r, 200, 0)
		for _, x := range r.obj(t)["targets"].([]any) {
			seen = append(seen, x.(map[string]any)["targetId"].(string))
		}
		if last, _ = r.obj(t)["last"].(string); last == "" {
			break
		}
	}
	if len(seen) != 2 {
		t.Fatalf("legacy list saw %v", seen)
	}
	e.expect(e.m("GET", "/targets", c, map[string]any{"limit": 101}), 200, 414)
	if n := e.count(); n != 2 {
		t.Fatalf("count %d", n)
	}

	// Update: fields, then activation; unknown id.
	r = e.m("PUT", "/target/"+id2, c, map[string]any{"name": "renamed", "active": "1", "meta": "m"})
	e.expect(r, 200, 0)
	if got := r.obj(t); got["name"] != "renamed" || got["active"] != "1" || got["size"] != "20" || !hasKey(got, "trackingImage") {
		t.Fatalf("update: %v", got)
	}
	e.expect(e.m("PUT", "/target/"+id2, c, map[string]any{"name": repeat(65)}), 200, 414)
	e.expect(e.m("PUT", "/target/"+id2, c, map[string]any{"meta": repeat(mib2 + 1)}), 200, 422)
	e.expect(e.m("PUT", "/target/nosuch", c, map[string]any{"name": "x"}), 200, 404)
	// New image for id2 that matches target id: 419; allowed with allowSimilar.
	e.expect(e.m("PUT", "/target/"+id2, c, map[string]any{"image": textureB64(t, 10)}), 200, 419)
	e.expect(e.m("PUT", "/target/"+id2, c, map[string]any{"image": textureB64(t, 12)}), 200, 0)

	// Similar and grades.
	r = e.m("POST", "/similar/", c, map[string]any{"image": textureB64(t, 10)})
	e.expect(r, 200, 0)
	sim := r.obj(t)["results"].([]any)
	if len(sim) == 0 || sim[0].(map[string]any)["targetId"] != id || !hasKey(sim[0].(map[string]any), "score") {
		t.Fatalf("similar: %v", r)
	}
	r = e.m("POST", "/similar", c, map[string]any{"image": textureB64(t, 99)})
	if e.expect(r, 200, 0); len(r.obj(t)["results"].([]any)) != 0 {
		t.Fatalf("similar of an unrelated image: %v", r)
	}
	e.expect(e.m("POST", "/similar", c, map[string]any{}), 200, 414)
	for _, path := range []string{"/grade/detection/", "/grade/tracking"} {
		r = e.m("POST", path, c, map[string]any{"image": textureB64(t, 10)})
		e.expect(r, 200, 0)
		if g, ok := r.obj(t)["grade"].(float64); !ok || g < 0 || g > 4 {
			t.Fatalf("%s: %v", path, r)
		}
	}
	r = e.m("POST", "/grade/detail", c, map[string]any{"image": textureB64(t, 10)})
	e.expect(r, 200, 0)
	for _, k := range []string{"detectableRate", "trackableRate", "detectableDistinctiveness", "detectableFeatureCount",
		"trackableDistinctiveness", "trackableFeatureCount", "trackableFeatureDistribution", "trackablePatchContrast", "trackablePatchAmbiguity"} {
		if !hasKey(r.obj(t), k) {
			t.Errorf("grade detail lacks %s", k)
		}
	}
	e.expect(e.m("POST", "/grade/detection", c, map[string]any{"image": "%%%"}), 200, 414)
	flat := b64(jpegBytes(t, image.NewGray(image.Rect(0, 0, 300, 300))))
	r = e.m("POST", "/grade/tracking", c, map[string]any{"image": flat})
	if e.expect(r, 200, 0); r.obj(t)["grade"] != float64(-1) {
		t.Fatalf("grade of a flat image: %v, want -1", r.obj(t)["grade"])
	}

	// Delete one, then the batch form.
	r = e.m("DELETE", "/target/"+id, c, nil)
	e.expect(r, 200, 0)
	if got := r.obj(t); got["targetId"] != id || got["target"].(map[string]any)["targetId"] != id || hasKey(got, "trackingImage") {
		t.Fatalf("delete: %v", got)
	}
	e.expect(e.m("DELETE", "/target/"+id, c, nil), 200, 404)
	r = e.m("DELETE", "/targets/", c, map[string]any{"targetId": id2 + "," + id})
	e.expect(r, 200, 0)
	if got := r.obj(t); fmt.Sprint(got["deleted"]) != "["+id2+"]" || fmt.Sprint(got["notFound"]) != "["+id+"]" {
		t.Fatalf("batch delete: %v", got)
	}
	e.expect(e.m("DELETE", "/targets", c, map[string]any{"targetId": ""}), 200, 414)
	if n := e.count(); n != 0 {
		t.Fatalf("count after deletes: %d", n)
	}
}

func TestDuplicatesAndQuotas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.apiKeyCred()
	id := e.createTarget(20, nil)
	r := e.m("POST", "/targets", c, map[string]any{"name": "again", "image": textureB64(t, 20)})
	e.expect(r, 200, 403)
	if !strings.HasPrefix(r.msg(), "Target already exists") || !strings.Contains(r.msg(), id) {
		t.Fatalf("duplicate message %q does not name %s", r.msg(), id)
	}
	dup := e.createTarget(20, map[string]any{"allowSimilar": "1", "active": "0"})
	// Only active targets count as duplicates: with id inactive, a copy is accepted.
	e.expect(e.m("PUT", "/target/"+id, c, map[string]any{"active": "0"}), 200, 0)
	e.createTarget(20, nil)

	// Quotas: 4 targets exist (2 active... see below); total quota reached → 417.
	e.setLimits(e.app.ID, store.Limits{MaxTargets: 3})
	e.expect(e.m("POST", "/targets", c, map[string]any{"name": "over", "image": textureB64(t, 21)}), 200, 417)
	// Active quota: one active target now; a limit of 1 refuses another activation (424).
	e.setLimits(e.app.ID, store.Limits{MaxActive: 1})
	e.expect(e.m("PUT", "/target/"+dup, c, map[string]any{"active": "1"}), 200, 424)
	e.expect(e.m("POST", "/targets", c, map[string]any{"name": "over", "image": textureB64(t, 22)}), 200, 424)
	e.setLimits(e.app.ID, store.Limits{MaxActive: 2})
	e.expect(e.m("PUT", "/target/"+dup, c, map[string]any{"active": "1"}), 200, 0)
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createTarget(30, nil)
	other := e.newApp(store.ModeCall)
	otherKey := e.newKey(map[string]store.Perm{other.ID: store.PermRead | store.PermWrite})
	oc := cred{form: auth.FormAPIKey, key: otherKey.Key, secret: otherKey.Secret, appID: other.ID}
	for _, c := range []cred{oc, cloudCred(other)} {
		e.expect(e.m("GET", "/target/"+id, c, nil), 200, 404)
		e.expect(e.m("PUT", "/target/"+id, c, map[string]any{"name": "x"}), 200, 404)
		e.expect(e.m("DELETE", "/target/"+id, c, nil), 200, 404)
		r := e.m("GET", "/targets/infos", c, nil)
		if e.expect(r, 200, 0); r.obj(t)["total"] != float64(0) {
			t.Fatalf("other database lists targets: %v", r)
		}
		e.expect(e.search(c, map[string]any{"image": textureB64(t, 30)}, nil), 404, 17)
	}
	// The other database's key naming this database's appId is refused.
	oc.appID = e.app.ID
	e.expect(e.m("GET", "/target/"+id, oc, nil), 403, 6)
	e.expect(e.search(oc, map[string]any{"image": textureB64(t, 30)}, nil), 403, 6)
	e.expect(e.m("GET", "/target/"+id, e.apiKeyCred(), nil), 200, 0)
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.apiKeyCred()
	id := e.createTarget(40, map[string]any{"shop": "north"})
	e.createTarget(41, nil)
	query := textureB64(t, 40)

	r := e.search(c, map[string]any{"image": query}, nil)
	e.expect(r, 200, 0)
	hit := r.obj(t)
	nested := hit["target"].(map[string]any)
	if hit["targetId"] != id || nested["targetId"] != id || hit["shop"] != "north" {
		t.Fatalf("hit: %v", hit)
	}
	if hasKey(hit, "trackingImage") || !hasKey(nested, "trackingImage") {
		t.Errorf("search: trackingImage must be under target only")
	}
	if s, _ := hit["score"].(float64); s < 0.5 {
		t.Errorf("score %v", hit["score"])
	}
	if cs, _ := hit["corners"].([]any); len(cs) != 4 {
		t.Errorf("corners %v", hit["corners"])
	}
	if hasKey(hit, "targets") {
		t.Errorf("targets list without expectNumber > 1")
	}
	r = e.search(c, map[string]any{"image": query, "notracking": "true", "expectNumber": 3}, nil)
	e.expect(r, 200, 0)
	if hasKey(r.obj(t)["target"].(map[string]any), "trackingImage") {
		t.Errorf("notracking ignored")
	}
	if ts, _ := r.obj(t)["targets"].([]any); len(ts) < 1 || ts[0].(map[string]any)["targetId"] != id || !hasKey(ts[0].(map[string]any), "corners") {
		t.Errorf("targets: %v", r.obj(t)["targets"])
	}

	// Multipart, image unsigned, one text field signed.
	r = e.searchMultipart(c, map[string]any{"notracking": "false"}, jpegBytes(t, texture(40, 480, 360)))
	e.expect(r, 200, 0)
	if r.obj(t)["targetId"] != id {
		t.Fatalf("multipart hit: %v", r)
	}
	// Signing the image too is also accepted (JSON form).
	p := map[string]any{"image": query}
	r = e.search(c, p, nil)
	e.expect(r, 200, 0)

	for _, tc := range []struct {
		name       string
		params     map[string]any
		http, code int
	}{
		{"miss", map[string]any{"image": textureB64(t, 49)}, 404, 17},
		{"expectNumber 10", map[string]any{"image": query, "expectNumber": 10}, 200, 0},
		{"expectNumber 11", map[string]any{"image": query, "expectNumber": 11}, 200, 426},
		{"expectNumber 0", map[string]any{"image": query, "expectNumber": 0}, 200, 414},
		{"image missing", map[string]any{}, 200, 414},
		{"image not base64", map[string]any{"image": "***"}, 200, 414},
		{"image undecodable", map[string]any{"image": b64([]byte("not an image at all"))}, 200, 427},
		{"image over 2 MiB", map[string]any{"image": b64(make([]byte, 2<<20+1))}, 200, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.search(c, tc.params, nil)
			e.expect(r, tc.http, tc.code)
			var m map[string]string
			if tc.code != 0 && (json.Unmarshal(r.Result, &m) != nil || m["message"] == "") {
				t.Errorf("search error result is not {message}: %s", r.Result)
			}
			if tc.code == 17 && m["message"] != "No result: there is no matching." {
				t.Errorf("miss message %q", m["message"])
			}
		})
	}
	e.expect(e.searchMultipart(c, map[string]any{}, []byte("junk")), 200, 427)

	// Inactive and deleted targets are not found.
	e.expect(e.m("PUT", "/target/"+id, c, map[string]any{"active": "0"}), 200, 0)
	e.expect(e.search(c, map[string]any{"image": query}, nil), 404, 17)
	e.expect(e.m("PUT", "/target/"+id, c, map[string]any{"active": "1"}), 200, 0)
	e.expect(e.search(c, map[string]any{"image": query}, nil), 200, 0)
	e.expect(e.m("DELETE", "/target/"+id, c, nil), 200, 0)
	e.expect(e.search(c, map[string]any{"image": query}, nil), 404, 17)
}

func TestSearchLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.apiKeyCred()
	q := map[string]any{"image": textureB64(t, 50)}
	clone := func() map[string]any { return map[string]any{"image": q["image"]} }

	e.setLimits(e.app.ID, store.Limits{QPS: 2})
	e.expect(e.search(c, clone(), nil), 404, 17)
	e.expect(e.search(c, clone(), nil), 404, 17)
	r := e.search(c, clone(), nil)
	e.expect(r, 429, 21)
	if r.msg() != "Exceed your QPS limitation." {
		t.Errorf("QPS message %q", r.msg())
	}
	e.clock.Add(time.Second)
	e.expect(e.search(c, clone(), nil), 404, 17)

	// Daily: 3 searches counted today so far (the refused one is not).
	e.setLimits(e.app.ID, store.Limits{DailyScans: 4})
	e.expect(e.search(c, clone(), nil), 404, 17)
	r = e.search(c, clone(), nil)
	e.expect(r, 402, 21)
	if r.msg() != "You have exceeded the limit of daily scanning." {
		t.Errorf("daily message %q", r.msg())
	}
	e.clock.Add(24 * time.Hour)
	e.expect(e.search(c, clone(), nil), 404, 17)
}

func TestSearchDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.SearchTimeout = time.Nanosecond })
	r := e.search(e.apiKeyCred(), map[string]any{"image": textureB64(t, 60)}, nil)
	e.expect(r, 408, 19)
	if r.msg() != "Request timeout." {
		t.Errorf("timeout message %q", r.msg())
	}
}

func TestDAU(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dau := e.newApp(store.ModeDAU)
	c := cloudCred(dau)
	img := textureB64(t, 70)
	for _, tc := range []struct {
		name       string
		ua, client string
		device     string
		http, code int
	}{
		{"no SDK", "curl/8.0", "", "d1", 403, 7},
		{"SDK without deviceId", "EasyAR-Sense/4.1.0", "", "", 403, 7},
		{"SDK 4.5 via User-Agent", "EasyAR-Sense/4.5.2 (Android)", "", "d1", 404, 17},
		{"SDK 4.1 via X-Client", "okhttp/4", "EasyAR Sense 4.1", "d2", 404, 17},
		{"Sense 4.6", "EasyAR-Sense/4.6.0", "", "d3", 403, 8},
		{"Sense 5.0", "", "EasyARSense/5.0", "d3", 403, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]any{"image": img}
			if tc.device != "" {
				p["deviceId"] = tc.device
			}
			hdr := map[string]string{"User-Agent": tc.ua}
			if tc.client != "" {
				hdr["X-Client"] = tc.client
			}
			e.expect(e.search(c, p, hdr), tc.http, tc.code)
		})
	}
	// A call-mode database does not care.
	e.expect(e.search(e.apiKeyCred(), map[string]any{"image": img}, map[string]string{"User-Agent": "curl/8.0"}), 404, 17)

	// Usage through the admin API: two searches from two devices.
	r := e.admin("GET", "/admin/apps/"+dau.ID+"/usage", nil)
	e.expect(r, 200, 0)
	days := r.obj(t)["days"].([]any)
	if len(days) != 1 {
		t.Fatalf("usage days %v", days)
	}
	d := days[0].(map[string]any)
	if d["searches"] != float64(2) || d["misses"] != float64(2) || d["devices"] != float64(2) || d["day"] != store.Day(e.clock.Now()) {
		t.Fatalf("usage %v", d)
	}
}

func (e *env) admin(method, path string, body any) resp {
	e.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, e.mgmt.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.roundTrip(req)
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.mgmt.URL+"/admin/apps", nil)
	e.expect(e.roundTrip(req), 401, 401)
	req.Header.Set("Authorization", "Bearer wrong")
	e.expect(e.roundTrip(req), 401, 401)

	r := e.admin("POST", "/admin/apps", map[string]any{"name": "shop", "mode": "dau", "limits": map[string]int{"qps": 3}})
	e.expect(r, 200, 0)
	a := r.obj(t)
	appID := a["appId"].(string)
	if a["appKey"] == "" || a["appSecret"] == "" || a["mode"] != "dau" || a["limits"].(map[string]any)["qps"] != float64(3) {
		t.Fatalf("created app %v", a)
	}
	e.expect(e.admin("POST", "/admin/apps", map[string]any{"mode": "monthly"}), 400, 414)
	e.expect(e.admin("POST", "/admin/apps", "not an object"), 400, 414)

	r = e.admin("GET", "/admin/apps", nil)
	if e.expect(r, 200, 0); len(r.obj(t)["apps"].([]any)) != 2 {
		t.Fatalf("apps %v", r)
	}
	r = e.admin("PUT", "/admin/apps/"+appID+"/limits/", map[string]any{"maxTargets": 10, "dailyScans": 100})
	e.expect(r, 200, 0)
	if l := r.obj(t)["limits"].(map[string]any); l["maxTargets"] != float64(10) || l["qps"] != float64(3) || l["dailyScans"] != float64(100) {
		t.Fatalf("limits %v", l)
	}
	e.expect(e.admin("PUT", "/admin/apps/"+appID+"/limits", map[string]any{"qps": -1}), 400, 414)
	e.expect(e.admin("PUT", "/admin/apps/nosuch/limits", map[string]any{"qps": 1}), 404, 404)
	e.expect(e.admin("GET", "/admin/apps/"+appID, nil), 200, 0)

	r = e.admin("POST", "/admin/keys", map[string]any{"name": "k", "grants": map[string]string{appID: "READ"}})
	e.expect(r, 200, 0)
	k := r.obj(t)
	if k["apiKey"] == "" || k["apiSecret"] == "" || k["grants"].(map[string]any)[appID] != "READ" {
		t.Fatalf("key %v", k)
	}
	e.expect(e.admin("POST", "/admin/keys", map[string]any{"grants": map[string]string{appID: "ADMIN"}}), 400, 414)
	e.expect(e.admin("POST", "/admin/keys", map[string]any{"grants": map[string]string{"nosuch": "READ"}}), 404, 404)
	r = e.admin("GET", "/admin/keys", nil)
	if e.expect(r, 200, 0); strings.Contains(string(r.raw), k["apiSecret"].(string)) {
		t.Fatalf("key list shows secrets")
	}
	kc := cred{form: auth.FormAPIKey, key: k["apiKey"].(string), secret: k["apiSecret"].(string), appID: appID}
	e.expect(e.m("GET", "/targets/count", kc, nil), 200, 0)
	e.expect(e.admin("DELETE", "/admin/keys/"+kc.key, nil), 200, 0)
	e.expect(e.admin("DELETE", "/admin/keys/"+kc.key, nil), 404, 404)
	e.expect(e.m("GET", "/targets/count", kc, nil), 401, 4)

	e.expect(e.admin("DELETE", "/admin/apps/"+appID, nil), 200, 0)
	e.expect(e.admin("DELETE", "/admin/apps/"+appID, nil), 404, 404)
	e.expect(e.admin("GET", "/admin/apps/"+appID+"/usage", nil), 404, 404)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.search(e.apiKeyCred(), map[string]any{"image": textureB64(t, 80)}, nil)
	e.call(e.mgmt.URL, "GET", "/nope", cred{}, nil)
	res, err := http.Get(e.mgmt.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	out := b.String()
	for _, want := range []string{
		"# TYPE opencrs_http_requests_total counter",
		`opencrs_http_requests_total{listener="recognition",endpoint="POST /search",status="404"} 1`,
		`opencrs_http_requests_total{listener="management",endpoint="unknown",status="404"} 1`,
		"# TYPE opencrs_http_request_duration_seconds histogram",
		`opencrs_http_request_duration_seconds_bucket{listener="recognition",endpoint="POST /search",le="+Inf"} 1`,
		`opencrs_http_request_duration_seconds_count{listener="recognition",endpoint="POST /search"} 1`,
		`opencrs_search_results_total{result="miss"} 1`,
		`opencrs_search_results_total{result="hit"} 0`,
		"# TYPE opencrs_engine_targets gauge",
		fmt.Sprintf(`opencrs_engine_targets{appId="%s"} 0`, e.app.ID),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
}

// faultStore fails chosen operations the way a broken backend would.
type faultStore struct {
	api.Store
	deleteErr error
	targetErr error
	createErr error
}

func (f *faultStore) CreateTarget(ctx context.Context, appID string, t store.Target, b store.Blobs, l store.Limits) error {
	if f.createErr != nil {
		return f.createErr
	}
	return f.Store.CreateTarget(ctx, appID, t, b, l)
}

func (f *faultStore) DeleteTarget(ctx context.Context, appID, id string) (store.Target, error) {
	if f.deleteErr != nil {
		return store.Target{}, f.deleteErr
	}
	return f.Store.DeleteTarget(ctx, appID, id)
}

func (f *faultStore) Target(ctx context.Context, appID, id string) (store.Target, error) {
	if f.targetErr != nil {
		return store.Target{}, f.targetErr
	}
	return f.Store.Target(ctx, appID, id)
}

// panickingRecognizer has a grader with a bug; nothing else of it is used.
type panickingRecognizer struct{ api.Recognizer }

func (panickingRecognizer) Grade(context.Context, *image.Gray) (engine.Grade, error) {
	panic("grader bug")
}

func TestFaults(t *testing.T) {
	t.Parallel()
	var fs *faultStore
	e := newEnv(t, func(c *api.Config) {
		fs = &faultStore{Store: c.Store}
		c.Store = fs
	})
	c := e.apiKeyCred()

	fs.deleteErr = errors.New("disk on fire")
	e.expect(e.m("DELETE", "/target/some-id", c, nil), 200, 420)
	fs.deleteErr = nil

	// The write of a new target fails: 417, and nothing is left searchable.
	fs.createErr = errors.New("disk full")
	e.expect(e.m("POST", "/targets", c, map[string]any{"name": "n", "image": textureB64(t, 92)}), 200, 417)
	fs.createErr = nil
	e.expect(e.search(c, map[string]any{"image": textureB64(t, 92)}, nil), 404, 17)

	fs.targetErr = fmt.Errorf("decoding: %w", store.ErrCorrupt)
	e.expect(e.m("GET", "/target/some-id", c, nil), 501, 501)
	fs.targetErr = nil

	// The backend goes away: every request that needs it is 502.
	e.store.Close()
	e.expect(e.m("GET", "/targets/count", c, nil), 502, 502)
	e.expect(e.search(c, map[string]any{"image": textureB64(t, 90)}, nil), 502, 502)
	e.expect(e.call(e.mgmt.URL, "GET", "/ping", cred{}, nil), 200, 0)
}

func TestPanicIs500(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) {
		c.NewRecognizer = func(string) (api.Recognizer, error) { return panickingRecognizer{}, nil }
	})
	r := e.m("POST", "/grade/detection", e.apiKeyCred(), map[string]any{"image": textureB64(t, 91)})
	e.expect(r, 500, 500)
	// The service survives.
	e.expect(e.call(e.mgmt.URL, "GET", "/ping", cred{}, nil), 200, 0)
}

// countingRecognizer is the real engine, counting feature extractions.
type countingRecognizer struct {
	api.Recognizer
	prepares *atomic.Int64
}

func (c countingRecognizer) Prepare(ctx context.Context, img *image.Gray) (*engine.Target, error) {
	c.prepares.Add(1)
	return c.Recognizer.Prepare(ctx, img)
}

func TestLoadUsesStoredFeatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := []string{e.createTarget(110, nil), e.createTarget(111, map[string]any{"active": "0"})}
	// A record whose features cannot be decoded is skipped, not fatal.
	bad := store.Target{ID: "bad", Name: "bad", Active: true, Modified: 1, Type: "ImageTarget", Size: "20"}
	if err := e.store.CreateTarget(context.Background(), e.app.ID, bad, store.Blobs{Image: []byte("x"), Features: []byte("garbage")}, store.Limits{}); err != nil {
		t.Fatal(err)
	}

	var prepares atomic.Int64
	ctx := context.Background()
	svc, err := api.New(ctx, api.Config{Store: e.store, Now: e.clock.Now, NewRecognizer: func(string) (api.Recognizer, error) {
		rec, err := engine.New(engine.Config{})
		return countingRecognizer{rec, &prepares}, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(ctx)
	n, err := svc.Load(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Load = %d, %v; want 2", n, err)
	}
	if prepares.Load() != 0 {
		t.Fatalf("Load extracted features %d times", prepares.Load())
	}
	reco := httptest.NewServer(svc.Recognition())
	defer reco.Close()
	e2 := *e
	e2.reco = reco
	r := e2.search(e.apiKeyCred(), map[string]any{"image": textureB64(t, 110)}, nil)
	if e.expect(r, 200, 0); r.obj(t)["targetId"] != ids[0] {
		t.Fatalf("reloaded engine: %v", r)
	}
	e2.expect(e2.search(e.apiKeyCred(), map[string]any{"image": textureB64(t, 111)}, nil), 404, 17)
}

// stuckRecognizer is the real engine except that (de)activation fails.
type stuckRecognizer struct{ api.Recognizer }

func (stuckRecognizer) SetActive(string, bool) error { return errors.New("index refused") }

func TestActivationFailureIs424AndRolledBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) {
		c.NewRecognizer = func(string) (api.Recognizer, error) {
			rec, err := engine.New(engine.Config{})
			return stuckRecognizer{rec}, err
		}
	})
	c := e.apiKeyCred()
	id := e.createTarget(93, map[string]any{"active": "0"})
	e.expect(e.m("PUT", "/target/"+id, c, map[string]any{"active": "1", "name": "new"}), 200, 424)
	r := e.m("GET", "/target/"+id, c, nil)
	if e.expect(r, 200, 0); r.obj(t)["active"] != "0" || r.obj(t)["name"] != "target-93" {
		t.Fatalf("after failed activation: active %v name %v", r.obj(t)["active"], r.obj(t)["name"])
	}
	e.expect(e.search(c, map[string]any{"image": textureB64(t, 93)}, nil), 404, 17)
}

// flakyRecognizer is the real engine whose next Add fails once when armed.
type flakyRecognizer struct {
	api.Recognizer
	failNext *atomic.Bool
}

func (f flakyRecognizer) Add(id string, t *engine.Target, active bool) error {
	if f.failNext.CompareAndSwap(true, false) {
		return errors.New("index refused")
	}
	return f.Recognizer.Add(id, t, active)
}

func TestImageUpdateFailureIsRolledBack(t *testing.T) {
	t.Parallel()
	var failNext atomic.Bool
	e := newEnv(t, func(c *api.Config) {
		c.NewRecognizer = func(string) (api.Recognizer, error) {
			rec, err := engine.New(engine.Config{})
			return flakyRecognizer{rec, &failNext}, err
		}
	})
	c := e.apiKeyCred()
	id := e.createTarget(94, nil)
	failNext.Store(true)
	e.expect(e.m("PUT", "/target/"+id, c, map[string]any{"image": textureB64(t, 95), "name": "new"}), 200, 417)
	r := e.m("GET", "/target/"+id, c, nil)
	if e.expect(r, 200, 0); r.obj(t)["name"] != "target-94" {
		t.Fatalf("name after failed update: %v", r.obj(t)["name"])
	}
	// The old image is still what the target is recognised by.
	r = e.search(c, map[string]any{"image": textureB64(t, 94)}, nil)
	if e.expect(r, 200, 0); r.obj(t)["targetId"] != id {
		t.Fatalf("old image after rollback: %v", r)
	}
	e.expect(e.search(c, map[string]any{"image": textureB64(t, 95)}, nil), 404, 17)
}
