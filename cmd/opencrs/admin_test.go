package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencrs/opencrs/internal/api"
	"github.com/opencrs/opencrs/internal/store"
)

// cli runs one command in-process and returns stdout; it fails the test
// unless the exit code is want.
func cli(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != want {
		t.Fatalf("opencrs %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String()
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	return v
}

// adminCommands runs the same scenario against a backend selected by flags.
func adminCommands(t *testing.T, where ...string) {
	with := func(args ...string) []string { return append(args, where...) }

	app := decodeJSON[map[string]string](t, cli(t, 0, with("app", "create", "--json", "--name", "shop", "--mode", "dau")...))
	if app["appId"] == "" || app["appKey"] == "" || app["appSecret"] == "" || len(app) != 3 {
		t.Fatalf("app create --json = %v", app)
	}
	id := app["appId"]
	list := decodeJSON[[]api.AppInfo](t, cli(t, 0, with("app", "list", "--json")...))
	found := false
	for _, a := range list {
		if a.AppID == id {
			found = a.Mode == store.ModeDAU && a.Name == "shop" && a.AppSecret == ""
		}
	}
	if !found {
		t.Fatalf("app list: %+v", list)
	}
	lim := decodeJSON[store.Limits](t, cli(t, 0, with("app", "limits", id, "--max-targets", "10", "--qps", "5", "--daily-scans", "1000", "--json")...))
	if lim != (store.Limits{MaxTargets: 10, QPS: 5, DailyScans: 1000}) {
		t.Fatalf("limits = %+v", lim)
	}
	// Flags before the id work too, and unset limits keep their value.
	lim = decodeJSON[store.Limits](t, cli(t, 0, with("app", "limits", "--qps", "0", id, "--json")...))
	if lim != (store.Limits{MaxTargets: 10, DailyScans: 1000}) {
		t.Fatalf("limits = %+v", lim)
	}
	if u := decodeJSON[[]store.Usage](t, cli(t, 0, with("app", "usage", id, "--json")...)); len(u) != 0 {
		t.Fatalf("usage of a new app: %+v", u)
	}

	key := decodeJSON[map[string]string](t, cli(t, 0, with("key", "create", "--app", id, "--perm", "READ", "--json")...))
	if key["apiKey"] == "" || key["apiSecret"] == "" || len(key) != 2 {
		t.Fatalf("key create --json = %v", key)
	}
	keys := decodeJSON[[]api.KeyInfo](t, cli(t, 0, with("key", "list", "--json")...))
	if !strings.Contains(cli(t, 0, with("key", "list")...), key["apiKey"]) || len(keys) == 0 {
		t.Fatalf("key list lacks %s", key["apiKey"])
	}
	for _, k := range keys {
		if k.APIKey == key["apiKey"] && (k.APISecret != "" || k.Grants[id] != "READ") {
			t.Fatalf("key list entry %+v", k)
		}
	}
	cli(t, 0, with("key", "revoke", key["apiKey"])...)
	cli(t, 1, with("key", "revoke", key["apiKey"])...)
	cli(t, 1, with("key", "create", "--app", "nosuchapp")...)
	cli(t, 1, with("key", "create", "--app", id, "--perm", "ADMIN")...)
	cli(t, 1, with("key", "create")...)
	cli(t, 1, with("app", "create", "--mode", "monthly")...)
	cli(t, 1, with("app", "create", "--name", strings.Repeat("n", 65))...)
	cli(t, 1, with("app", "limits")...)
	cli(t, 1, with("app", "frobnicate")...)

	cli(t, 0, with("app", "delete", id)...)
	cli(t, 1, with("app", "delete", id)...)
	if strings.Contains(cli(t, 0, with("app", "list")...), id) {
		t.Fatalf("deleted app still listed")
	}
}

func newDataDir(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	st, err := store.OpenBolt(filepath.Join(data, dbFile), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return data
}

func TestAdminOffline(t *testing.T) {
	data := newDataDir(t)
	adminCommands(t, "--data", data)
	cli(t, 1, "app", "list", "--data", filepath.Join(data, "missing"))
}

func TestAdminOnline(t *testing.T) {
	data := newDataDir(t)
	st, err := store.OpenBolt(filepath.Join(data, dbFile), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	svc, err := api.New(ctx, api.Config{Store: st, AdminToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(ctx)
	srv := httptest.NewServer(svc.Management())
	defer srv.Close()

	adminCommands(t, "--server", srv.URL, "--token", "tok")
	// The token comes from DATA/admin.token when not given.
	if err := os.WriteFile(filepath.Join(data, adminTokenFile), []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, 0, "app", "list", "--server", srv.URL, "--data", data)
	cli(t, 1, "app", "list", "--server", srv.URL, "--token", "wrong")
}
