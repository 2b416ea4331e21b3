package api_test

import (
	"context"
	"testing"

	"github.com/opencrs/opencrs/internal/api"
	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/store"
)

// BenchmarkSearchHTTP is one signed JSON search over HTTP against a
// database of 50 synthetic targets, the query showing one of them:
// decode, auth, extraction, retrieval, verification and the response.
func BenchmarkSearchHTTP(b *testing.B) {
	e := newEnv(b)
	for seed := uint64(1000); seed < 1050; seed++ {
		e.createTarget(seed, map[string]any{"allowSimilar": "1"})
	}
	query := textureB64(b, 1025)
	c := e.apiKeyCred()
	for b.Loop() {
		if r := e.search(c, map[string]any{"image": query}, nil); r.StatusCode != 0 {
			b.Fatalf("search: HTTP %d statusCode %d", r.HTTP, r.StatusCode)
		}
	}
}

// BenchmarkCreateTargetHTTP is one target creation over HTTP: decode,
// extraction and grading, the duplicate check, the fsync'd store write.
func BenchmarkCreateTargetHTTP(b *testing.B) {
	e := newEnv(b)
	seed := uint64(2000)
	for b.Loop() {
		seed++
		e.createTarget(seed, map[string]any{"allowSimilar": "1"})
	}
}

// BenchmarkLoad rebuilds the engine of a database of 200 targets from the
// store, as serve does on start: decode stored features, index them.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	e := newEnv(b)
	rec, err := engine.New(engine.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		tg, err := rec.Prepare(ctx, texture(uint64(3000+i), 480, 360))
		if err != nil {
			b.Fatal(err)
		}
		feat, err := tg.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		st := store.Target{ID: store.NewUUID(), Name: "t", Active: true, Modified: int64(i), Type: "ImageTarget", Size: "20"}
		if err := e.store.CreateTarget(ctx, e.app.ID, st, store.Blobs{Image: []byte("x"), Features: feat}, store.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		svc, err := api.New(ctx, api.Config{Store: e.store})
		if err != nil {
			b.Fatal(err)
		}
		if n, err := svc.Load(ctx); err != nil || n != 200 {
			b.Fatalf("Load = %d, %v", n, err)
		}
		svc.Close(ctx)
	}
}
