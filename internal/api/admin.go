package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencrs/opencrs/internal/store"
)

// The admin API manages databases and API keys. It lives on the management
// listener under /admin/ and is authenticated by the server's admin token
// (Authorization: Bearer <token>), not by CRS credentials.

// AppInfo is a database as the admin API shows it.
type AppInfo struct {
	AppID     string       `json:"appId"`
	Name      string       `json:"name"`
	Mode      store.Mode   `json:"mode"`
	AppKey    string       `json:"appKey"`
	AppSecret string       `json:"appSecret,omitempty"`
	Limits    store.Limits `json:"limits"`
	Targets   *int         `json:"targets,omitempty"`
	Created   string       `json:"created"`
}

// KeyInfo is an API key as the admin API shows it; the secret only on creation.
type KeyInfo struct {
	APIKey    string            `json:"apiKey"`
	APISecret string            `json:"apiSecret,omitempty"`
	Name      string            `json:"name,omitempty"`
	Grants    map[string]string `json:"grants"`
	Created   string            `json:"created"`
}

// NewAppInfo shows a database; the secret only when withSecret.
func NewAppInfo(a store.App, withSecret bool) AppInfo {
	ai := AppInfo{AppID: a.ID, Name: a.Name, Mode: a.Mode, AppKey: a.AppKey, Limits: a.Limits,
		Created: a.Created.Format("2006-01-02T15:04:05Z07:00")}
	if withSecret {
		ai.AppSecret = a.AppSecret
	}
	return ai
}

// NewKeyInfo shows an API key; the secret only when withSecret.
func NewKeyInfo(k store.APIKey, withSecret bool) KeyInfo {
	ki := KeyInfo{APIKey: k.Key, Name: k.Name, Grants: map[string]string{},
		Created: k.Created.Format("2006-01-02T15:04:05Z07:00")}
	for app, p := range k.Grants {
		ki.Grants[app] = p.String()
	}
	if withSecret {
		ki.APISecret = k.Secret
	}
	return ki
}

func errAdminAuth() *apiError {
	return &apiError{http: http.StatusUnauthorized, code: 401, msg: "invalid admin token"}
}

func errAdminInput(format string, args ...any) *apiError {
	return &apiError{http: http.StatusBadRequest, code: 414, msg: msgParam, cause: fmt.Errorf(format, args...)}
}

func errAdminNotFound(what string, err error) *apiError {
	return &apiError{http: http.StatusNotFound, code: 404, msg: what + " not found", cause: err}
}

// admin wraps an admin handler with the token check.
func (s *Service) admin(h handlerFunc) handlerFunc {
	return func(ctx context.Context, c *call) (any, error) {
		got, ok := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
		if s.cfg.AdminToken == "" || !ok ||
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.cfg.AdminToken)) != 1 {
			return nil, errAdminAuth()
		}
		return h(ctx, c)
	}
}

func decodeBody(c *call, v any) error {
	body, err := io.ReadAll(c.r.Body)
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errAdminInput("body: %v", err)
	}
	return nil
}

// CreateAppRequest is the body of POST /admin/apps.
type CreateAppRequest struct {
	Name   string        `json:"name"`
	Mode   string        `json:"mode"`
	Limits *store.Limits `json:"limits,omitempty"`
}

// CreateApp creates a database with fresh credentials. It is exported for
// the serve command's first start, which creates the default database.
func (s *Service) CreateApp(ctx context.Context, req CreateAppRequest) (store.App, error) {
	mode, err := store.ParseMode(req.Mode)
	if err != nil {
		return store.App{}, errAdminInput("%v", err)
	}
	if req.Name == "" {
		req.Name = "default"
	}
	if !ValidName(req.Name) {
		return store.App{}, errAdminInput("name must be 1-64 printable ASCII characters")
	}
	a := store.NewApp(req.Name, mode, s.now())
	if req.Limits != nil {
		if err := checkLimits(*req.Limits); err != nil {
			return store.App{}, err
		}
		a.Limits = *req.Limits
	}
	if err := s.store.CreateApp(ctx, a); err != nil {
		return store.App{}, err
	}
	if _, err := s.engines.get(a.ID); err != nil {
		return store.App{}, err
	}
	return a, nil
}

func checkLimits(l store.Limits) error {
	if l.MaxTargets < 0 || l.MaxActive < 0 || l.QPS < 0 || l.DailyScans < 0 {
		return errAdminInput("limits must be >= 0 (0 = unlimited)")
	}
	return nil
}

func (s *Service) adminCreateApp(ctx context.Context, c *call) (any, error) {
	var req CreateAppRequest
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	a, err := s.CreateApp(ctx, req)
	if err != nil {
		return nil, err
	}
	c.appID = a.ID
	return NewAppInfo(a, true), nil
}

func (s *Service) adminListApps(ctx context.Context, c *call) (any, error) {
	apps, err := s.store.Apps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AppInfo, 0, len(apps))
	for _, a := range apps {
		ai := NewAppInfo(a, false)
		if n, err := s.store.CountTargets(ctx, a.ID); err == nil {
			ai.Targets = &n.Total
		}
		out = append(out, ai)
	}
	return map[string]any{"apps": out}, nil
}

func (s *Service) adminGetApp(ctx context.Context, c *call) (any, error) {
	a, err := s.store.App(ctx, c.vars[0])
	if errors.Is(err, store.ErrNotFound) {
		return nil, errAdminNotFound("app", err)
	}
	if err != nil {
		return nil, err
	}
	ai := NewAppInfo(a, true)
	n, err := s.store.CountTargets(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	ai.Targets = &n.Total
	return ai, nil
}

func (s *Service) adminDeleteApp(ctx context.Context, c *call) (any, error) {
	id := c.vars[0]
	err := s.store.DeleteApp(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errAdminNotFound("app", err)
	}
	if err != nil {
		return nil, err
	}
	if ae := s.engines.drop(id); ae != nil {
		if p, ok := ae.rec.(persistent); ok {
			if err := p.Close(); err != nil {
				s.log.Error("closing deleted database's engine", "appId", id, "err", err)
			}
		}
	}
	if s.cfg.EngineDir != "" {
		if err := os.RemoveAll(filepath.Join(s.cfg.EngineDir, id)); err != nil {
			s.log.Error("removing deleted database's engine files", "appId", id, "err", err)
		}
	}
	s.limiter.drop(id)
	return map[string]any{"deleted": id}, nil
}

// LimitsRequest is the body of PUT /admin/apps/{id}/limits; absent fields
// keep their value, 0 means unlimited.
type LimitsRequest struct {
	MaxTargets *int `json:"maxTargets,omitempty"`
	MaxActive  *int `json:"maxActive,omitempty"`
	QPS        *int `json:"qps,omitempty"`
	DailyScans *int `json:"dailyScans,omitempty"`
}

// Apply sets the limits the request names and checks the result.
func (r LimitsRequest) Apply(l *store.Limits) error {
	for _, f := range []struct{ v, dst *int }{
		{r.MaxTargets, &l.MaxTargets}, {r.MaxActive, &l.MaxActive}, {r.QPS, &l.QPS}, {r.DailyScans, &l.DailyScans},
	} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	return checkLimits(*l)
}

func (s *Service) adminSetLimits(ctx context.Context, c *call) (any, error) {
	var req LimitsRequest
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	a, err := s.store.UpdateApp(ctx, c.vars[0], func(a *store.App) error { return req.Apply(&a.Limits) })
	if errors.Is(err, store.ErrNotFound) {
		return nil, errAdminNotFound("app", err)
	}
	if err != nil {
		return nil, err
	}
	return NewAppInfo(a, false), nil
}

func (s *Service) adminUsage(ctx context.Context, c *call) (any, error) {
	id := c.vars[0]
	if _, err := s.store.App(ctx, id); errors.Is(err, store.ErrNotFound) {
		return nil, errAdminNotFound("app", err)
	} else if err != nil {
		return nil, err
	}
	// Report what was counted up to now, not up to the last periodic flush.
	if err := s.usage.Flush(ctx); err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	days, err := s.store.Usage(ctx, id, q.Get("from"), q.Get("to"))
	if err != nil {
		return nil, err
	}
	if days == nil {
		days = []store.Usage{}
	}
	return map[string]any{"appId": id, "days": days}, nil
}

// CreateKeyRequest is the body of POST /admin/keys: grants map appIds to
// "READ", "WRITE" or "READ,WRITE".
type CreateKeyRequest struct {
	Name   string            `json:"name"`
	Grants map[string]string `json:"grants"`
}

// ParseGrants reads the request's grants.
func (r CreateKeyRequest) ParseGrants() (map[string]store.Perm, error) {
	grants := make(map[string]store.Perm, len(r.Grants))
	for app, ps := range r.Grants {
		p, err := store.ParsePerm(ps)
		if err != nil {
			return nil, fmt.Errorf("grant on %s: %v", app, err)
		}
		grants[app] = p
	}
	return grants, nil
}

func (s *Service) adminCreateKey(ctx context.Context, c *call) (any, error) {
	var req CreateKeyRequest
	if err := decodeBody(c, &req); err != nil {
		return nil, err
	}
	grants, err := req.ParseGrants()
	if err != nil {
		return nil, errAdminInput("%v", err)
	}
	for app := range grants {
		if _, err := s.store.App(ctx, app); errors.Is(err, store.ErrNotFound) {
			return nil, errAdminNotFound("app "+app, err)
		} else if err != nil {
			return nil, err
		}
	}
	k := store.NewAPIKey(req.Name, grants, s.now())
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	return NewKeyInfo(k, true), nil
}

func (s *Service) adminListKeys(ctx context.Context, c *call) (any, error) {
	ks, err := s.store.APIKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(ks))
	for _, k := range ks {
		out = append(out, NewKeyInfo(k, false))
	}
	return map[string]any{"keys": out}, nil
}

func (s *Service) adminRevokeKey(ctx context.Context, c *call) (any, error) {
	err := s.store.DeleteAPIKey(ctx, c.vars[0])
	if errors.Is(err, store.ErrNotFound) {
		return nil, errAdminNotFound("api key", err)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"revoked": c.vars[0]}, nil
}
