// Package crsclient is a Go client for EasyAR-CRS-compatible cloud recognition
// services (opencrs, or EasyAR CRS itself). It signs requests the way
// EasyAR's official clients do: the authentication fields travel with the
// other parameters (JSON body for POST/PUT, query for GET/DELETE), and the
// signature is SHA-256 over all of them sorted by name, then the secret.
//
// Failures reported by the service are *Error values; errors.Is(err,
// ErrNoMatch) tells a search that found nothing.
package crsclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opencrs/opencrs/internal/auth"
)

// Config configures a Client. Give either an API key (APIKey, APISecret, and
// AppID for the database) or a database's cloud key (AppKey, AppSecret), or a
// Token and AppID obtained from Client.Token.
type Config struct {
	ServerURL string // management ("server-end") URL, e.g. http://localhost:8888
	SearchURL string // recognition ("client-end") URL, e.g. http://localhost:8080

	AppID     string
	APIKey    string
	APISecret string
	AppKey    string
	AppSecret string
	Token     string

	// HTTPClient sends the requests; nil means a client with no timeout
	// (deadlines come from the context).
	HTTPClient *http.Client
	// Clock is the local clock; nil means time.Now. The client corrects it
	// by the server's clock when a request is refused as "invalid date".
	Clock func() time.Time
	// UserAgent is sent with every request; empty means "opencrs-crsclient".
	UserAgent string
}

// Client calls one service with one set of credentials. It is safe for
// concurrent use.
type Client struct {
	cfg    Config
	server *url.URL
	search *url.URL
	http   *http.Client
	// skewMS is server time minus local time, learnt from a refused request.
	skewMS atomic.Int64
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	c := &Client{cfg: cfg, http: cfg.HTTPClient}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.cfg.Clock == nil {
		c.cfg.Clock = time.Now
	}
	if c.cfg.UserAgent == "" {
		c.cfg.UserAgent = "opencrs-crsclient"
	}
	var err error
	if cfg.ServerURL != "" {
		if c.server, err = parseBase(cfg.ServerURL); err != nil {
			return nil, fmt.Errorf("crsclient: server URL: %w", err)
		}
	}
	if cfg.SearchURL != "" {
		if c.search, err = parseBase(cfg.SearchURL); err != nil {
			return nil, fmt.Errorf("crsclient: search URL: %w", err)
		}
	}
	if c.server == nil && c.search == nil {
		return nil, errors.New("crsclient: neither server nor search URL given")
	}
	switch {
	case cfg.APIKey != "" || cfg.APISecret != "":
		if cfg.APIKey == "" || cfg.APISecret == "" {
			return nil, errors.New("crsclient: API key and API secret go together")
		}
	case cfg.AppKey != "" || cfg.AppSecret != "":
		if cfg.AppKey == "" || cfg.AppSecret == "" {
			return nil, errors.New("crsclient: app key and app secret go together")
		}
	case cfg.Token != "":
		if cfg.AppID == "" {
			return nil, errors.New("crsclient: a token needs an app id")
		}
	default:
		return nil, errors.New("crsclient: no credentials: give an API key and secret, an app key and secret, or a token")
	}
	return c, nil
}

func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", s)
	}
	return u, nil
}

// Error is a failure reported by the service: a non-zero statusCode.
type Error struct {
	HTTP    int    // HTTP status of the response
	Code    int    // statusCode
	Message string // the result message
}

func (e *Error) Error() string {
	return fmt.Sprintf("crsclient: %s (http %d, statusCode %d)", e.Message, e.HTTP, e.Code)
}

// Is matches errors with the same HTTP status and statusCode, so
// errors.Is(err, ErrNoMatch) works whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.HTTP == e.HTTP && t.Code == e.Code
}

// ErrNoMatch is what Search returns when no target is in the image.
var ErrNoMatch = &Error{HTTP: http.StatusNotFound, Code: 17, Message: "No result: there is no matching."}

// codeInvalidDate is the statusCode of a request refused for its clock.
const codeInvalidDate = 3

// request is one API call before authentication is added.
type request struct {
	method string
	search bool   // recognition listener rather than management
	path   string // already escaped
	params map[string]string
	// numeric names the params sent as JSON numbers rather than strings, as
	// EasyAR's JavaScript samples do; they are signed as the same text.
	numeric map[string]bool
	// bodyToo sends the parameters as a JSON body as well as in the query,
	// for DELETE with a body (servers read one or the other).
	bodyToo bool
	// file, when set, makes the request multipart with this file as the
	// "image" part; it is not signed.
	file []byte
	// needAPIKey refuses cloud keys and tokens (token issuance).
	needAPIKey bool
}

// envelope is every response of the API.
type envelope struct {
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result"`
	Timestamp  int64           `json:"timestamp"`
}

// maxResponse bounds what is read of a response; the largest legitimate
// results are lists of 100 targets.
const maxResponse = 64 << 20

// do sends r and decodes a successful result into out (if non-nil). A
// request refused for its clock is retried once with the clock corrected by
// the server's timestamp.
func (c *Client) do(ctx context.Context, r request, out any) error {
	for attempt := 0; ; attempt++ {
		env, status, err := c.roundTrip(ctx, r)
		if err != nil {
			return err
		}
		if env.StatusCode == 0 {
			if out == nil || len(env.Result) == 0 {
				return nil
			}
			if err := json.Unmarshal(env.Result, out); err != nil {
				return fmt.Errorf("crsclient: %s %s: decoding result: %w", r.method, r.path, err)
			}
			return nil
		}
		apiErr := &Error{HTTP: status, Code: env.StatusCode, Message: message(env.Result)}
		if env.StatusCode == codeInvalidDate && attempt == 0 && env.Timestamp > 0 && c.cfg.Token == "" {
			c.skewMS.Store(env.Timestamp - c.cfg.Clock().UnixMilli())
			continue
		}
		return apiErr
	}
}

// message extracts an error message: a string, or {"message": ...} on the
// search endpoints.
func message(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil && m.Message != "" {
		return m.Message
	}
	return string(raw)
}

func (c *Client) roundTrip(ctx context.Context, r request) (envelope, int, error) {
	req, err := c.build(ctx, r)
	if err != nil {
		return envelope{}, 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return envelope{}, 0, fmt.Errorf("crsclient: %s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return envelope{}, 0, fmt.Errorf("crsclient: %s %s: reading response: %w", r.method, r.path, err)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.StatusCode == 0 && env.Result == nil {
		return envelope{}, 0, fmt.Errorf("crsclient: %s %s: HTTP %d without an API envelope: %.200q", r.method, r.path, resp.StatusCode, body)
	}
	return env, resp.StatusCode, nil
}

// signed returns r's parameters with the authentication fields added and
// signed, and the Authorization header for token mode.
func (c *Client) signed(r request) (params map[string]string, authorization string, err error) {
	params = make(map[string]string, len(r.params)+4)
	for k, v := range r.params {
		params[k] = v
	}
	ts := strconv.FormatInt(c.cfg.Clock().UnixMilli()+c.skewMS.Load(), 10)
	switch {
	case c.cfg.APIKey != "":
		params["apiKey"] = c.cfg.APIKey
		if c.cfg.AppID != "" {
			params["appId"] = c.cfg.AppID
		}
		params["timestamp"] = ts
		params["signature"] = auth.Sign(params, c.cfg.APISecret, auth.SHA256)
	case r.needAPIKey:
		return nil, "", errors.New("crsclient: this call needs an API key")
	case c.cfg.AppKey != "":
		params["appKey"] = c.cfg.AppKey
		params["timestamp"] = ts
		params["signature"] = auth.Sign(params, c.cfg.AppSecret, auth.SHA256)
	default:
		params["appId"] = c.cfg.AppID
		authorization = c.cfg.Token
	}
	return params, authorization, nil
}

func (c *Client) build(ctx context.Context, r request) (*http.Request, error) {
	base := c.server
	if r.search {
		base = c.search
	}
	if base == nil {
		which := "server"
		if r.search {
			which = "search"
		}
		return nil, fmt.Errorf("crsclient: %s %s: no %s URL configured", r.method, r.path, which)
	}
	params, authorization, err := c.signed(r)
	if err != nil {
		return nil, err
	}
	plain, err := url.PathUnescape(r.path)
	if err != nil {
		return nil, fmt.Errorf("crsclient: path %q: %w", r.path, err)
	}
	u := *base
	u.Path = base.Path + plain
	u.RawPath = base.EscapedPath() + r.path

	var body io.Reader
	contentType := ""
	switch {
	case r.file != nil:
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for k, v := range params {
			if err := w.WriteField(k, v); err != nil {
				return nil, fmt.Errorf("crsclient: building form: %w", err)
			}
		}
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", `form-data; name="image"; filename="image"`)
		h.Set("Content-Type", http.DetectContentType(r.file))
		part, err := w.CreatePart(h)
		if err == nil {
			_, err = part.Write(r.file)
		}
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("crsclient: building form: %w", err)
		}
		body, contentType = &b, w.FormDataContentType()
	case r.method == http.MethodGet || r.method == http.MethodDelete:
		q := make(url.Values, len(params))
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		if !r.bodyToo {
			break
		}
		fallthrough
	default:
		b, err := jsonBody(params, r.numeric)
		if err != nil {
			return nil, err
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("crsclient: %s %s: %w", r.method, r.path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req, nil
}

// jsonBody encodes params as a JSON object; numeric ones that are valid
// integers go as JSON numbers, so the signed text is the number as written.
func jsonBody(params map[string]string, numeric map[string]bool) ([]byte, error) {
	m := make(map[string]any, len(params))
	for k, v := range params {
		if numeric[k] || k == "timestamp" {
			if _, err := strconv.ParseInt(v, 10, 64); err == nil {
				m[k] = json.Number(v)
				continue
			}
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("crsclient: encoding body: %w", err)
	}
	return b, nil
}
