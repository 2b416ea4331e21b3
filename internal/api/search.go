package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/opencrs/opencrs/internal/auth"
	"github.com/opencrs/opencrs/internal/store"
)

const maxExpect = 10

// searchAny serves POST /search (JSON) and POST /v2/search (multipart).
// Each also accepts the other's body, told apart by content type: clients
// in the wild mix them up, and the body is unambiguous.
func (s *Service) searchAny(ctx context.Context, c *call) (any, error) {
	if mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		return s.searchMultipart(ctx, c)
	}
	if err := s.readParams(c); err != nil {
		return nil, err
	}
	return s.search(ctx, c, nil)
}

// searchMultipart serves POST /v2/search: the image is a file part and is
// not signed; every text field is.
func (s *Service) searchMultipart(ctx context.Context, c *call) (any, error) {
	// Files stay in memory up to the body limit, which bounds them anyway.
	if err := c.r.ParseMultipartForm(s.cfg.MaxBody); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, errUnparseable(err)
	}
	defer c.r.MultipartForm.RemoveAll()
	c.params = auth.ParamsFromMultipart(c.r.MultipartForm)
	var data []byte
	if fhs := c.r.MultipartForm.File["image"]; len(fhs) > 0 {
		if fhs[0].Size > int64(s.cfg.MaxImage) {
			data = make([]byte, s.cfg.MaxImage+1) // decodeImage reports 422
		} else {
			f, err := fhs[0].Open()
			if err != nil {
				return nil, fmt.Errorf("opening image part: %w", err)
			}
			data, err = io.ReadAll(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("reading image part: %w", err)
			}
		}
	}
	return s.search(ctx, c, data)
}

// search is the common part: file holds the multipart image, nil for JSON.
func (s *Service) search(ctx context.Context, c *call, file []byte) (any, error) {
	app, err := s.authorize(ctx, c, auth.Read)
	if err != nil {
		return nil, err
	}
	device := c.params["deviceId"]
	if app.Mode == store.ModeDAU {
		if err := checkSDK(c.r, device); err != nil {
			return nil, err
		}
	}
	now := s.now()
	if !s.limiter.allow(app.ID, app.Limits.QPS, now) {
		return nil, &apiError{http: http.StatusTooManyRequests, code: 21, msg: msgQPS}
	}
	if lim := app.Limits.DailyScans; lim > 0 {
		n, err := s.usage.Searches(ctx, app.ID, store.Day(now))
		if err != nil {
			return nil, err
		}
		if n >= int64(lim) {
			return nil, &apiError{http: http.StatusPaymentRequired, code: 21, msg: msgDaily}
		}
	}
	k, err := intParam(c.params, "expectNumber", 1, 1, 1<<30)
	if err != nil {
		return nil, err
	}
	if k > maxExpect {
		return nil, business(426, msgCandidates, fmt.Errorf("expectNumber %d", k))
	}
	noTracking := strings.EqualFold(c.params["notracking"], "true") || c.params["notracking"] == "1"

	var data []byte
	switch {
	case file != nil:
		data = file
	case c.params["image"] != "":
		if data, err = s.imageBytes(c.params["image"]); err != nil {
			return nil, err
		}
	default:
		return nil, errParam("image missing")
	}
	img, err := s.decodeImage(data)
	if err != nil {
		return nil, err
	}
	ae, err := s.engines.get(app.ID)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.SearchTimeout)
	defer cancel()
	if sctx.Err() != nil {
		return nil, sctx.Err()
	}
	res, err := ae.rec.Search(sctx, img, k)
	if err != nil {
		if sctx.Err() != nil {
			return nil, context.DeadlineExceeded
		}
		return nil, fmt.Errorf("search: %w", err)
	}
	// Drop hits on targets deleted since the engine answered.
	type hit struct {
		t     store.Target
		score float64
		c     [4][2]float64
	}
	var hits []hit
	for _, r := range res {
		t, err := s.store.Target(ctx, app.ID, r.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		hits = append(hits, hit{t, r.Score, r.Corners})
	}
	hitID := ""
	if len(hits) > 0 {
		hitID = hits[0].t.ID
	}
	s.usage.Record(app.ID, store.Day(now), device, hitID)
	s.metrics.search(hitID != "")
	if len(hits) == 0 {
		return nil, &apiError{http: http.StatusNotFound, code: 17, msg: msgNoResult}
	}
	best := hits[0]
	tracking := ""
	if !noTracking {
		b, err := s.store.TrackingImage(ctx, app.ID, best.t.ID)
		if err != nil {
			return nil, err
		}
		tracking = base64.StdEncoding.EncodeToString(b)
	}
	out := single(best.t, "", tracking)
	out["score"] = best.score
	out["corners"] = corners(best.c)
	if k > 1 {
		all := make([]map[string]any, 0, len(hits))
		for _, h := range hits {
			v := targetView(h.t)
			v["score"] = h.score
			v["corners"] = corners(h.c)
			all = append(all, v)
		}
		out["targets"] = all
	}
	return out, nil
}

func corners(c [4][2]float64) [][2]float64 { return c[:] }

// sdkPattern finds an EasyAR SDK declaration with its version in User-Agent
// or X-Client, e.g. "EasyAR-Sense/4.5.0", "EasyAR Sense 4.1", "EasyARSense/3.1".
var sdkPattern = regexp.MustCompile(`(?i)easyar[ _/-]?(?:sense)?[ _/-]*v?(\d+)\.(\d+)`)

// checkSDK enforces the DAU rules: the client names the SDK (code 7),
// the SDK is older than Sense 4.6 (code 8), and a deviceId is sent (7).
func checkSDK(r *http.Request, device string) error {
	var m []string
	for _, h := range []string{r.Header.Get("X-Client"), r.Header.Get("User-Agent")} {
		if m = sdkPattern.FindStringSubmatch(h); m != nil {
			break
		}
	}
	if m == nil || device == "" {
		return &apiError{http: http.StatusForbidden, code: 7, msg: msgNonSDK}
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major > 4 || major == 4 && minor >= 6 {
		return &apiError{http: http.StatusForbidden, code: 8, msg: msgSense46}
	}
	return nil
}
