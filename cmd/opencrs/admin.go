package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencrs/opencrs/internal/api"
	"github.com/opencrs/opencrs/internal/store"
)

// The app and key commands administer databases and API keys either offline,
// directly on a data directory (the server must be stopped: bbolt's file
// lock tells us), or online through a running server's admin API.

// adminBackend is what the commands need; offline and online implement it.
type adminBackend interface {
	CreateApp(ctx context.Context, req api.CreateAppRequest) (api.AppInfo, error)
	ListApps(ctx context.Context) ([]api.AppInfo, error)
	DeleteApp(ctx context.Context, id string) error
	SetLimits(ctx context.Context, id string, req api.LimitsRequest) (api.AppInfo, error)
	Usage(ctx context.Context, id, from, to string) ([]store.Usage, error)
	CreateKey(ctx context.Context, req api.CreateKeyRequest) (api.KeyInfo, error)
	ListKeys(ctx context.Context) ([]api.KeyInfo, error)
	RevokeKey(ctx context.Context, key string) error
	Close() error
}

// adminFlags are the flags every app/key command shares.
type adminFlags struct {
	data, server, token string
	json                bool
}

func (f *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", settingOr("OPENCRS_DATA", "./data"), "data directory (offline; env OPENCRS_DATA)")
	fs.StringVar(&f.server, "server", os.Getenv("OPENCRS_SERVER"), "management URL of a running server (online; env OPENCRS_SERVER)")
	fs.StringVar(&f.token, "token", os.Getenv("OPENCRS_ADMIN_TOKEN"), "admin token (online; default read from DATA/admin.token)")
	fs.BoolVar(&f.json, "json", false, "print JSON")
}

func (f *adminFlags) open() (adminBackend, error) {
	if f.server != "" {
		tok := f.token
		if tok == "" {
			b, err := os.ReadFile(filepath.Join(f.data, adminTokenFile))
			if err != nil {
				return nil, fmt.Errorf("admin token: pass --token or run where %s exists: %w", filepath.Join(f.data, adminTokenFile), err)
			}
			tok = strings.TrimSpace(string(b))
		}
		return &onlineAdmin{base: strings.TrimRight(f.server, "/"), token: tok, client: &http.Client{Timeout: time.Minute}}, nil
	}
	path := filepath.Join(f.data, dbFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s (start the server once, or pass --data): %w", path, err)
	}
	// A short timeout: if a server holds the lock, say so instead of hanging.
	st, err := store.OpenBolt(path, store.BoltOptions{Timeout: 500 * time.Millisecond})
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return nil, fmt.Errorf("%w\nuse --server URL to go through the running server", err)
		}
		return nil, err
	}
	return &offlineAdmin{st: st}, nil
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("app limits ID --qps 5") and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runApp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: opencrs app create|list|delete|limits|usage [flags]")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("app "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	name := fs.String("name", "default", "database name (create)")
	mode := fs.String("mode", "call", "billing mode call|dau (create)")
	maxTargets := fs.Int("max-targets", -1, "total target quota, 0 = unlimited, -1 = unchanged (limits)")
	maxActive := fs.Int("max-active", -1, "active target quota, 0 = unlimited, -1 = unchanged (limits)")
	qps := fs.Int("qps", -1, "searches per second, 0 = unlimited, -1 = unchanged (limits)")
	daily := fs.Int("daily-scans", -1, "searches per UTC day, 0 = unlimited, -1 = unchanged (limits)")
	from := fs.String("from", "", "first day YYYY-MM-DD (usage)")
	to := fs.String("to", "", "last day YYYY-MM-DD (usage)")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	needID := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("usage: opencrs app %s APP_ID", sub)
		}
		return pos[0], nil
	}
	switch sub {
	case "create", "list":
		if len(pos) != 0 {
			return fmt.Errorf("unexpected arguments %q", pos)
		}
	case "delete", "limits", "usage":
		if _, err := needID(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown app command %q (create, list, delete, limits, usage)", sub)
	}
	b, err := af.open()
	if err != nil {
		return err
	}
	defer b.Close()

	switch sub {
	case "create":
		a, err := b.CreateApp(ctx, api.CreateAppRequest{Name: *name, Mode: *mode})
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, map[string]string{"appId": a.AppID, "appKey": a.AppKey, "appSecret": a.AppSecret})
		}
		fmt.Fprintf(stdout, "appId:     %s\nappKey:    %s\nappSecret: %s\nmode:      %s\n", a.AppID, a.AppKey, a.AppSecret, a.Mode)
	case "list":
		apps, err := b.ListApps(ctx)
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, apps)
		}
		for _, a := range apps {
			n := "?"
			if a.Targets != nil {
				n = fmt.Sprint(*a.Targets)
			}
			fmt.Fprintf(stdout, "%s  %-20s mode=%s targets=%s appKey=%s limits=%s\n", a.AppID, a.Name, a.Mode, n, a.AppKey, fmtLimits(a.Limits))
		}
	case "delete":
		if err := b.DeleteApp(ctx, pos[0]); err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, map[string]string{"deleted": pos[0]})
		}
		fmt.Fprintf(stdout, "deleted %s\n", pos[0])
	case "limits":
		var req api.LimitsRequest
		set := func(v int) *int {
			if v < 0 {
				return nil
			}
			return &v
		}
		req.MaxTargets, req.MaxActive, req.QPS, req.DailyScans = set(*maxTargets), set(*maxActive), set(*qps), set(*daily)
		a, err := b.SetLimits(ctx, pos[0], req)
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, a.Limits)
		}
		fmt.Fprintf(stdout, "%s limits: %s\n", a.AppID, fmtLimits(a.Limits))
	case "usage":
		days, err := b.Usage(ctx, pos[0], *from, *to)
		if err != nil {
			return err
		}
		if af.json {
			if days == nil {
				days = []store.Usage{}
			}
			return printJSON(stdout, days)
		}
		fmt.Fprintf(stdout, "%-10s %10s %10s %10s %10s\n", "day", "searches", "hits", "misses", "devices")
		for _, d := range days {
			fmt.Fprintf(stdout, "%-10s %10d %10d %10d %10d\n", d.Day, d.Searches, d.Hits, d.Misses, d.Devices)
		}
	}
	return nil
}

func fmtLimits(l store.Limits) string {
	f := func(n int) string {
		if n == 0 {
			return "unlimited"
		}
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("max-targets=%s max-active=%s qps=%s daily-scans=%s", f(l.MaxTargets), f(l.MaxActive), f(l.QPS), f(l.DailyScans))
}

func runKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: opencrs key create|list|revoke [flags]")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("key "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	var apps multiFlag
	fs.Var(&apps, "app", "database the key reaches (create; repeatable)")
	perm := fs.String("perm", "READ,WRITE", "permissions on those databases: READ, WRITE or READ,WRITE (create)")
	name := fs.String("name", "", "label (create)")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(apps) == 0 || len(pos) != 0 {
			return errors.New("usage: opencrs key create --app APP_ID [--app APP_ID...] [--perm READ,WRITE]")
		}
		if _, err := store.ParsePerm(*perm); err != nil {
			return err
		}
	case "list":
		if len(pos) != 0 {
			return fmt.Errorf("unexpected arguments %q", pos)
		}
	case "revoke":
		if len(pos) != 1 {
			return errors.New("usage: opencrs key revoke API_KEY")
		}
	default:
		return fmt.Errorf("unknown key command %q (create, list, revoke)", sub)
	}
	b, err := af.open()
	if err != nil {
		return err
	}
	defer b.Close()

	switch sub {
	case "create":
		grants := map[string]string{}
		for _, a := range apps {
			grants[a] = *perm
		}
		k, err := b.CreateKey(ctx, api.CreateKeyRequest{Name: *name, Grants: grants})
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, map[string]string{"apiKey": k.APIKey, "apiSecret": k.APISecret})
		}
		fmt.Fprintf(stdout, "apiKey:    %s\napiSecret: %s\ngrants:    %s\n", k.APIKey, k.APISecret, fmtGrants(k.Grants))
	case "list":
		ks, err := b.ListKeys(ctx)
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, ks)
		}
		for _, k := range ks {
			fmt.Fprintf(stdout, "%s  %-16s %s\n", k.APIKey, k.Name, fmtGrants(k.Grants))
		}
	case "revoke":
		if err := b.RevokeKey(ctx, pos[0]); err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, map[string]string{"revoked": pos[0]})
		}
		fmt.Fprintf(stdout, "revoked %s\n", pos[0])
	}
	return nil
}

func fmtGrants(g map[string]string) string {
	parts := make([]string, 0, len(g))
	for app, p := range g {
		parts = append(parts, app+":"+p)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, s)
		}
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// offlineAdmin works on the store file directly.
type offlineAdmin struct{ st *store.Bolt }

func (o *offlineAdmin) Close() error { return o.st.Close() }

func (o *offlineAdmin) CreateApp(ctx context.Context, req api.CreateAppRequest) (api.AppInfo, error) {
	mode, err := store.ParseMode(req.Mode)
	if err != nil {
		return api.AppInfo{}, err
	}
	if !api.ValidName(req.Name) {
		return api.AppInfo{}, fmt.Errorf("name %q: want 1-64 printable ASCII characters", req.Name)
	}
	a := store.NewApp(req.Name, mode, time.Now())
	if err := o.st.CreateApp(ctx, a); err != nil {
		return api.AppInfo{}, err
	}
	return api.NewAppInfo(a, true), nil
}

func (o *offlineAdmin) ListApps(ctx context.Context) ([]api.AppInfo, error) {
	apps, err := o.st.Apps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.AppInfo, 0, len(apps))
	for _, a := range apps {
		ai := api.NewAppInfo(a, false)
		if n, err := o.st.CountTargets(ctx, a.ID); err == nil {
			ai.Targets = &n.Total
		}
		out = append(out, ai)
	}
	return out, nil
}

func (o *offlineAdmin) DeleteApp(ctx context.Context, id string) error {
	return o.st.DeleteApp(ctx, id)
}

func (o *offlineAdmin) SetLimits(ctx context.Context, id string, req api.LimitsRequest) (api.AppInfo, error) {
	a, err := o.st.UpdateApp(ctx, id, func(a *store.App) error { return req.Apply(&a.Limits) })
	return api.NewAppInfo(a, false), err
}

func (o *offlineAdmin) Usage(ctx context.Context, id, from, to string) ([]store.Usage, error) {
	return o.st.Usage(ctx, id, from, to)
}

func (o *offlineAdmin) CreateKey(ctx context.Context, req api.CreateKeyRequest) (api.KeyInfo, error) {
	grants, err := req.ParseGrants()
	if err != nil {
		return api.KeyInfo{}, err
	}
	for app := range grants {
		if _, err := o.st.App(ctx, app); err != nil {
			return api.KeyInfo{}, err
		}
	}
	k := store.NewAPIKey(req.Name, grants, time.Now())
	if err := o.st.CreateAPIKey(ctx, k); err != nil {
		return api.KeyInfo{}, err
	}
	return api.NewKeyInfo(k, true), nil
}

func (o *offlineAdmin) ListKeys(ctx context.Context) ([]api.KeyInfo, error) {
	ks, err := o.st.APIKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.KeyInfo, 0, len(ks))
	for _, k := range ks {
		out = append(out, api.NewKeyInfo(k, false))
	}
	return out, nil
}

func (o *offlineAdmin) RevokeKey(ctx context.Context, key string) error {
	return o.st.DeleteAPIKey(ctx, key)
}

// onlineAdmin calls a running server's admin API.
type onlineAdmin struct {
	base, token string
	client      *http.Client
}

func (o *onlineAdmin) Close() error { return nil }

// do sends one admin request and decodes the envelope's result into out.
func (o *onlineAdmin) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	var env struct {
		StatusCode int             `json:"statusCode"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s %s: HTTP %d, undecodable response: %w", method, path, resp.StatusCode, err)
	}
	if env.StatusCode != 0 {
		var msg string
		if json.Unmarshal(env.Result, &msg) != nil {
			msg = string(env.Result)
		}
		return fmt.Errorf("%s %s: HTTP %d, statusCode %d: %s", method, path, resp.StatusCode, env.StatusCode, msg)
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("%s %s: decoding result: %w", method, path, err)
		}
	}
	return nil
}

func (o *onlineAdmin) CreateApp(ctx context.Context, req api.CreateAppRequest) (api.AppInfo, error) {
	var a api.AppInfo
	return a, o.do(ctx, http.MethodPost, "/admin/apps", req, &a)
}

func (o *onlineAdmin) ListApps(ctx context.Context) ([]api.AppInfo, error) {
	var r struct {
		Apps []api.AppInfo `json:"apps"`
	}
	return r.Apps, o.do(ctx, http.MethodGet, "/admin/apps", nil, &r)
}

func (o *onlineAdmin) DeleteApp(ctx context.Context, id string) error {
	return o.do(ctx, http.MethodDelete, "/admin/apps/"+url.PathEscape(id), nil, nil)
}

func (o *onlineAdmin) SetLimits(ctx context.Context, id string, req api.LimitsRequest) (api.AppInfo, error) {
	var a api.AppInfo
	return a, o.do(ctx, http.MethodPut, "/admin/apps/"+url.PathEscape(id)+"/limits", req, &a)
}

func (o *onlineAdmin) Usage(ctx context.Context, id, from, to string) ([]store.Usage, error) {
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if to != "" {
		q.Set("to", to)
	}
	var r struct {
		Days []store.Usage `json:"days"`
	}
	return r.Days, o.do(ctx, http.MethodGet, "/admin/apps/"+url.PathEscape(id)+"/usage?"+q.Encode(), nil, &r)
}

func (o *onlineAdmin) CreateKey(ctx context.Context, req api.CreateKeyRequest) (api.KeyInfo, error) {
	var k api.KeyInfo
	return k, o.do(ctx, http.MethodPost, "/admin/keys", req, &k)
}

func (o *onlineAdmin) ListKeys(ctx context.Context) ([]api.KeyInfo, error) {
	var r struct {
		Keys []api.KeyInfo `json:"keys"`
	}
	return r.Keys, o.do(ctx, http.MethodGet, "/admin/keys", nil, &r)
}

func (o *onlineAdmin) RevokeKey(ctx context.Context, key string) error {
	return o.do(ctx, http.MethodDelete, "/admin/keys/"+url.PathEscape(key), nil, nil)
}
