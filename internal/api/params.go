package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencrs/opencrs/internal/auth"
	"github.com/opencrs/opencrs/internal/store"
	"github.com/opencrs/opencrs/internal/vision"
)

// readParams fills c.params: the top-level members of a JSON body (POST,
// PUT, and DELETE with a body), then query parameters the body did not set.
// Values are text whatever their JSON type (API.md §1: strings or numbers).
func (s *Service) readParams(c *call) error {
	r := c.r
	q := auth.ParamsFromQuery(r.URL.Query())
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		c.params = q
		return nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		c.params = q
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(strings.Contains(mt, "json") || mt == "text/plain") {
			return errUnparseable(fmt.Errorf("content type %q, want application/json", ct))
		}
	}
	p, err := auth.ParamsFromJSON(body)
	if err != nil {
		return errUnparseable(err)
	}
	for k, v := range q {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	c.params = p
	return nil
}

// authorize authenticates the call for perm on the database it addresses
// and returns that database.
func (s *Service) authorize(ctx context.Context, c *call, perm auth.Perm) (store.App, error) {
	p, err := s.verifier.Authorize(ctx, auth.Request{Params: c.params, Authorization: c.r.Header.Get("Authorization")}, perm)
	if err != nil {
		return store.App{}, err
	}
	c.appID = p.AppID
	a, err := s.store.App(ctx, p.AppID)
	if errors.Is(err, store.ErrNotFound) { // deleted since the auth lookup
		return store.App{}, auth.ErrNotExist
	}
	return a, err
}

// begin reads the parameters and authorizes: the preamble of every CRS endpoint.
func (s *Service) begin(ctx context.Context, c *call, perm auth.Perm) (store.App, error) {
	if err := s.readParams(c); err != nil {
		return store.App{}, err
	}
	return s.authorize(ctx, c, perm)
}

// imageBytes decodes the base64 image parameter, enforcing the decoded-size
// limit before decoding (422). It accepts padded or unpadded, standard or
// URL-safe base64, with or without a data: URI prefix and line breaks, as
// clients in the wild send all of these.
func (s *Service) imageBytes(b64 string) ([]byte, error) {
	if i := strings.Index(b64, ";base64,"); i >= 0 && strings.HasPrefix(b64, "data:") {
		b64 = b64[i+len(";base64,"):]
	}
	if strings.ContainsAny(b64, "\r\n \t") {
		b64 = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, b64)
	}
	if b64 == "" {
		return nil, errParam("image is empty")
	}
	if n := base64.RawStdEncoding.DecodedLen(len(strings.TrimRight(b64, "="))); n > s.cfg.MaxImage {
		return nil, business(422, msgTooLarge, fmt.Errorf("image of %d bytes over %d", n, s.cfg.MaxImage))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if data, err := enc.DecodeString(b64); err == nil {
			return data, nil
		}
	}
	return nil, errParam("image is not base64")
}

// decodeImage turns image bytes into grey levels: 422 when too large,
// 427 when not an image we read or too small.
func (s *Service) decodeImage(data []byte) (*image.Gray, error) {
	if len(data) > s.cfg.MaxImage {
		return nil, business(422, msgTooLarge, fmt.Errorf("image of %d bytes over %d", len(data), s.cfg.MaxImage))
	}
	img, err := vision.Decode(data, vision.Limits{})
	switch {
	case errors.Is(err, vision.ErrTooLarge):
		return nil, business(422, msgTooLarge, err)
	case err != nil:
		return nil, business(427, msgImage, err)
	}
	return img, nil
}

// imageParam is imageBytes then decodeImage for a required "image" parameter.
func (s *Service) imageParam(c *call) (*image.Gray, error) {
	b64, ok := c.params["image"]
	if !ok {
		return nil, errParam("image missing")
	}
	data, err := s.imageBytes(b64)
	if err != nil {
		return nil, err
	}
	return s.decodeImage(data)
}

// intParam reads an optional integer parameter within [lo, hi].
func intParam(p map[string]string, key string, def, lo, hi int) (int, error) {
	v, ok := p[key]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		// JSON numbers may arrive as 5.0.
		f, ferr := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if ferr != nil || f != float64(int(f)) {
			return 0, errParam("%s %q is not an integer", key, v)
		}
		n = int(f)
	}
	if n < lo || n > hi {
		return 0, errParam("%s %d outside [%d, %d]", key, n, lo, hi)
	}
	return n, nil
}

// ValidName reports whether s is a valid target or database name: 1–64
// printable ASCII characters.
func ValidName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
