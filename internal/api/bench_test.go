package api_test

import "testing"

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
