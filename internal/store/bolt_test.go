package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTest(t *testing.T) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "opencrs.db")
	s, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func newTestApp(t *testing.T, s *Bolt) App {
	t.Helper()
	a := NewApp("test", ModeCall, time.Now())
	if err := s.CreateApp(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestApps(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	a := newTestApp(t, s)
	if err := s.CreateApp(ctx, a); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate create: %v, want ErrExists", err)
	}
	got, err := s.AppByKey(ctx, a.AppKey)
	if err != nil || got.ID != a.ID || got.AppSecret != a.AppSecret {
		t.Fatalf("AppByKey = %+v, %v", got, err)
	}
	up, err := s.UpdateApp(ctx, a.ID, func(a *App) error {
		a.Limits = Limits{MaxTargets: 3, QPS: 2}
		a.AppKey = "cannot change"
		return nil
	})
	if err != nil || up.Limits.MaxTargets != 3 || up.AppKey != a.AppKey {
		t.Fatalf("UpdateApp = %+v, %v", up, err)
	}
	k := NewAPIKey("k", map[string]Perm{a.ID: PermRead | PermWrite, "other": PermRead}, time.Now())
	if err := s.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("App after delete: %v", err)
	}
	if _, err := s.AppByKey(ctx, a.AppKey); !errors.Is(err, ErrNotFound) {
		t.Fatalf("AppByKey after delete: %v", err)
	}
	k2, err := s.APIKey(ctx, k.Key)
	if err != nil || len(k2.Grants) != 1 || k2.Grants["other"] != PermRead {
		t.Fatalf("grants after app delete = %v, %v", k2.Grants, err)
	}
	if err := s.DeleteAPIKey(ctx, k.Key); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAPIKey(ctx, k.Key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
}

func TestTargetsAndQuotas(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	a := newTestApp(t, s)
	lim := Limits{MaxTargets: 3, MaxActive: 2}
	blobs := Blobs{Image: []byte("jpeg"), Features: []byte("feat")}
	for i, tc := range []struct {
		active bool
		want   error
	}{
		{true, nil},
		{true, nil},
		{true, ErrActiveQuota},
		{false, nil},
		{false, ErrTargetQuota},
	} {
		tg := Target{ID: fmt.Sprintf("t%d", i), Name: "n", Active: tc.active, Modified: int64(100 + i)}
		if err := s.CreateTarget(ctx, a.ID, tg, blobs, lim); !errors.Is(err, tc.want) {
			t.Fatalf("create %d: %v, want %v", i, err, tc.want)
		}
	}
	c, err := s.CountTargets(ctx, a.ID)
	if err != nil || c != (Counts{Total: 3, Active: 2}) {
		t.Fatalf("counts = %+v, %v", c, err)
	}
	// Newest first; modifying t0 moves it to the front.
	t0, _ := s.Target(ctx, a.ID, "t0")
	t0.Modified, t0.Active = 200, false
	if err := s.UpdateTarget(ctx, a.ID, t0, Blobs{}, lim); err != nil {
		t.Fatal(err)
	}
	list, total, err := s.ListTargets(ctx, a.ID, 0, 2)
	if err != nil || total != 3 || len(list) != 2 || list[0].ID != "t0" || list[1].ID != "t3" {
		t.Fatalf("list = %+v total %d, %v", list, total, err)
	}
	list, _, _ = s.ListTargets(ctx, a.ID, 2, 2)
	if len(list) != 1 || list[0].ID != "t1" {
		t.Fatalf("page 2 = %+v", list)
	}
	img, err := s.TrackingImage(ctx, a.ID, "t0")
	if err != nil || string(img) != "jpeg" {
		t.Fatalf("image kept on update = %q, %v", img, err)
	}
	t3, _ := s.Target(ctx, a.ID, "t3")
	t3.Active = true
	if err := s.UpdateTarget(ctx, a.ID, t3, Blobs{}, lim); err != nil {
		t.Fatalf("activation under quota: %v", err)
	}
	t0.Active = true
	if err := s.UpdateTarget(ctx, a.ID, t0, Blobs{}, lim); !errors.Is(err, ErrActiveQuota) {
		t.Fatalf("activation over quota: %v", err)
	}
	// Legacy cursor pages in id order.
	var ids []string
	for cur := ""; ; {
		page, next, err := s.ScanTargets(ctx, a.ID, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		if next == "" {
			break
		}
		cur = next
	}
	if fmt.Sprint(ids) != "[t0 t1 t3]" {
		t.Fatalf("scan = %v", ids)
	}
	var feats []Features
	for cur := ""; ; {
		page, next, err := s.LoadFeatures(ctx, a.ID, cur, 1)
		if err != nil {
			t.Fatal(err)
		}
		feats = append(feats, page...)
		if next == "" {
			break
		}
		cur = next
	}
	if len(feats) != 3 || string(feats[0].Features) != "feat" || feats[0].Active {
		t.Fatalf("features = %+v", feats)
	}
	if _, err := s.DeleteTarget(ctx, a.ID, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteTarget(ctx, a.ID, "t1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if c, _ := s.CountTargets(ctx, a.ID); c != (Counts{Total: 2, Active: 1}) {
		t.Fatalf("counts after delete = %+v", c)
	}
	if _, _, err := s.ListTargets(ctx, "nope", 0, 5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown app: %v", err)
	}
}

func TestUsage(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	a := newTestApp(t, s)
	deltas := []UsageDelta{
		{Searches: 2, Hits: 1, Misses: 1, Devices: []string{"d1", "d2"}, TargetHits: map[string]int64{"t": 1}},
		{Searches: 1, Hits: 1, Devices: []string{"d2", "d3"}, TargetHits: map[string]int64{"t": 1}},
	}
	for _, d := range deltas {
		if err := s.AddUsage(ctx, a.ID, "2026-01-02", d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddUsage(ctx, a.ID, "2026-01-03", UsageDelta{Searches: 5}); err != nil {
		t.Fatal(err)
	}
	u, err := s.Usage(ctx, a.ID, "", "2026-01-02")
	if err != nil || len(u) != 1 {
		t.Fatalf("usage = %+v, %v", u, err)
	}
	if got := u[0]; got.Searches != 3 || got.Hits != 2 || got.Misses != 1 || got.Devices != 3 || got.TargetHits["t"] != 2 {
		t.Fatalf("day = %+v", got)
	}
	if u, _ := s.Usage(ctx, a.ID, "", ""); len(u) != 2 {
		t.Fatalf("all days = %+v", u)
	}
}

func TestSecretPersistsAndCloseIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	gen := func() ([]byte, error) { return []byte(RandomHex(8)), nil }
	first, err := s.Secret(ctx, "admin", gen)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Apps(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after close: %v, want ErrUnavailable", err)
	}
	s2, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	again, err := s2.Secret(ctx, "admin", gen)
	if err != nil || string(again) != string(first) {
		t.Fatalf("secret after reopen = %q, %v; want %q", again, err, first)
	}
	// A second opener waits on the file lock and gives up clearly.
	if _, err := OpenBolt(path, BoltOptions{Timeout: 50 * time.Millisecond}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("locked open: %v, want ErrUnavailable", err)
	}
}

// NoSync commits without fsync; Sync makes them durable; a reopen (with
// the default, syncing) sees everything.
func TestNoSyncThenSync(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "opencrs.db")
	s, err := OpenBolt(path, BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestApp(t, s)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Sync(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Sync after close: %v, want ErrUnavailable", err)
	}
	s2, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.App(ctx, a.ID); err != nil || got.ID != a.ID {
		t.Fatalf("app after reopen: %+v, %v", got, err)
	}
}

func TestParsePerm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Perm
		ok   bool
	}{
		{"READ", PermRead, true},
		{"write", PermWrite, true},
		{"READ,WRITE", PermRead | PermWrite, true},
		{"", 0, false},
		{"ADMIN", 0, false},
	} {
		got, err := ParsePerm(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePerm(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestCorruptRecordsAreReported(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	a := newTestApp(t, s)
	tg := Target{ID: "t1", Name: "n", Active: true, Modified: 1}
	if err := s.CreateTarget(ctx, a.ID, tg, Blobs{Image: []byte("i"), Features: []byte("f")}, Limits{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Damage the target's record behind the store's back.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bDB).Bucket([]byte(a.ID)).Bucket(bTargets).Put([]byte("t1"), []byte("{not json"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Target(ctx, a.ID, "t1"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Target: %v, want ErrCorrupt", err)
	}
	if _, _, err := s2.ListTargets(ctx, a.ID, 0, 10); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ListTargets: %v, want ErrCorrupt", err)
	}
	if _, _, err := s2.LoadFeatures(ctx, a.ID, "", 10); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LoadFeatures: %v, want ErrCorrupt", err)
	}
}

func TestBlobs(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	a := newTestApp(t, s)
	if err := s.CreateTarget(ctx, a.ID, Target{ID: "t"}, Blobs{Image: []byte("img"), Features: []byte("feat")}, Limits{}); err != nil {
		t.Fatal(err)
	}
	b, err := s.Blobs(ctx, a.ID, "t")
	if err != nil || string(b.Image) != "img" || string(b.Features) != "feat" {
		t.Fatalf("Blobs = %q %q, %v", b.Image, b.Features, err)
	}
	if _, err := s.Blobs(ctx, a.ID, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Blobs of unknown: %v", err)
	}
}
