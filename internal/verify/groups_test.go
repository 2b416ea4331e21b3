package verify

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

// TestMatchGroupsAgrees checks that grouped matching finds exactly the pairs
// of bucketed MatchPrepared, for fine and coarse buckets, with and without
// cross-checking, and that a subset of query descriptors yields the pairs of
// that subset.
func TestMatchGroupsAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	mk := func(n int) *feature.Set {
		s := &feature.Set{Width: 100, Height: 100}
		for range n {
			s.Keypoints = append(s.Keypoints, feature.Keypoint{X: r.Float32() * 100, Y: r.Float32() * 100, Scale: 1})
			s.Descriptors = append(s.Descriptors, feature.Descriptor{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()})
		}
		return s
	}
	tset := mk(300)
	q := mk(400)
	// Half the query descriptors are noisy copies of target ones.
	for i := 0; i < 200; i++ {
		d := tset.Descriptors[i]
		d[0] ^= 1 << (i % 64)
		q.Descriptors[i] = d
	}
	// Buckets: fine = parent*4 + child, from the descriptor's top bits so
	// that copies share buckets.
	bucket := func(d feature.Descriptor) (uint32, uint32) {
		p := uint32(d[3] >> 62)
		return p*4 + uint32(d[3]>>60&3), p
	}
	var tb, tp, qb, qp []uint32
	for _, d := range tset.Descriptors {
		b, p := bucket(d)
		tb, tp = append(tb, b), append(tp, p)
	}
	for _, d := range q.Descriptors {
		b, p := bucket(d)
		qb, qp = append(qb, b), append(qp, p)
	}
	prep := PrepareCoarse(tset, tb, tp)
	sortPairs := func(ps []Pair) []Pair {
		slices.SortFunc(ps, func(a, b Pair) int { return int(a.Q - b.Q) })
		return ps
	}
	for _, cross := range []bool{false, true} {
		opt := MatchOptions{Ratio: 0.9, CrossCheck: cross, MaxDistance: 80}
		want := sortPairs(MatchPrepared(q, qb, prep, opt, nil))
		got := sortPairs(MatchGroups(q, GroupQuery(qb, nil, nil), prep, false, opt, nil))
		if !slices.Equal(want, got) {
			t.Fatalf("cross=%v fine: %d pairs, want %d", cross, len(got), len(want))
		}
		wantC := sortPairs(MatchCoarse(q, qp, prep, opt, nil))
		gotC := sortPairs(MatchGroups(q, GroupQuery(qp, nil, nil), prep, true, opt, nil))
		if !slices.Equal(wantC, gotC) {
			t.Fatalf("cross=%v coarse: %d pairs, want %d", cross, len(gotC), len(wantC))
		}
		if len(want) < 150 {
			t.Fatalf("only %d pairs of 200 planted", len(want))
		}
	}
	sub := []int32{0, 1, 2, 3, 250}
	for _, p := range MatchGroups(q, GroupQuery(qb, sub, nil), prep, false, MatchOptions{}, nil) {
		if !slices.Contains(sub, p.Q) {
			t.Fatalf("pair for query %d outside the subset", p.Q)
		}
	}
}
