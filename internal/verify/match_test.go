package verify

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

// matchScene has nTrue query descriptors that are target descriptors with a
// few flipped bits (query i ↔ target perm[i]), nDistract random query
// descriptors and extra random target descriptors. Buckets are the top byte
// of the original target descriptor, shared by both sides of a true pair.
type matchScene struct {
	q, t     *feature.Set
	qb, tb   []uint32
	want     map[int32]int32 // query → target
	distract int
}

func makeMatchScene(r *rand.Rand, nTrue, nDistract, nExtra, flips int) matchScene {
	nt := nTrue + nExtra
	t := &feature.Set{Descriptors: make([]feature.Descriptor, nt), Keypoints: make([]feature.Keypoint, nt)}
	tb := make([]uint32, nt)
	for i := range t.Descriptors {
		t.Descriptors[i] = randDesc(r)
		tb[i] = uint32(t.Descriptors[i][0] >> 56)
	}
	perm := r.Perm(nt)
	q := &feature.Set{}
	var qb []uint32
	want := make(map[int32]int32)
	for i := range nTrue {
		j := perm[i]
		want[int32(len(q.Descriptors))] = int32(j)
		q.Descriptors = append(q.Descriptors, flip(r, t.Descriptors[j], flips))
		qb = append(qb, tb[j])
	}
	for range nDistract {
		q.Descriptors = append(q.Descriptors, randDesc(r))
		qb = append(qb, uint32(r.IntN(256)))
	}
	q.Keypoints = make([]feature.Keypoint, len(q.Descriptors))
	return matchScene{q, t, qb, tb, want, nDistract}
}

func TestMatchFindsTruePairs(t *testing.T) {
	tests := []struct {
		name   string
		opt    MatchOptions
		bucket bool
	}{
		{"brute", MatchOptions{}, false},
		{"brute cross", MatchOptions{CrossCheck: true}, false},
		{"bucketed", MatchOptions{}, true},
		{"bucketed cross", MatchOptions{CrossCheck: true}, true},
	}
	for _, tc := range tests {
		r := rand.New(rand.NewPCG(1, 1))
		sc := makeMatchScene(r, 300, 200, 400, 20)
		opt := tc.opt
		if tc.bucket {
			opt.QBuckets, opt.TBuckets = sc.qb, sc.tb
		}
		pairs := Match(sc.q, sc.t, opt, nil)
		if len(pairs) != len(sc.want) {
			t.Errorf("%s: %d pairs, want %d", tc.name, len(pairs), len(sc.want))
		}
		for _, p := range pairs {
			if w, ok := sc.want[p.Q]; !ok || w != p.T {
				t.Errorf("%s: wrong pair %+v", tc.name, p)
			}
			if d := feature.Distance(&sc.q.Descriptors[p.Q], &sc.t.Descriptors[p.T]); d != int(p.Dist) || d != 20 {
				t.Errorf("%s: pair %+v has distance %d", tc.name, p, d)
			}
		}
	}
}

// With consistent buckets (every true pair shares a bucket) and a margin
// between true and chance distances, bucketed and brute-force matching agree.
func TestMatchBucketedEqualsBrute(t *testing.T) {
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 2))
		sc := makeMatchScene(r, 200+int(seed)*50, 100, 300, int(seed)*6)
		brute := Match(sc.q, sc.t, MatchOptions{}, nil)
		p := Prepare(sc.t, sc.tb)
		buck := MatchPrepared(sc.q, sc.qb, p, MatchOptions{}, nil)
		if !slices.Equal(brute, buck) {
			t.Errorf("seed %d: brute %d pairs, bucketed %d pairs differ", seed, len(brute), len(buck))
		}
		if p.Len() != len(sc.t.Descriptors) {
			t.Errorf("seed %d: prepared %d descriptors", seed, p.Len())
		}
	}
}

func TestMatchRatioAndOneToOne(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	base := randDesc(r)
	other := randDesc(r)
	tests := []struct {
		name string
		q, t []feature.Descriptor
		opt  MatchOptions
		want []Pair
	}{
		{
			// Two near-identical target descriptors: ambiguous.
			name: "ambiguous",
			q:    []feature.Descriptor{base},
			t:    []feature.Descriptor{flip(r, base, 8), flip(r, base, 9), other},
			want: []Pair{},
		},
		{
			name: "ambiguous without ratio",
			q:    []feature.Descriptor{base},
			t:    []feature.Descriptor{other, flip(r, base, 3), base},
			opt:  MatchOptions{Ratio: -1},
			want: []Pair{{Q: 0, T: 2, Dist: 0}},
		},
		{
			name: "too far",
			q:    []feature.Descriptor{flip(r, base, 70)},
			t:    []feature.Descriptor{base, other},
			want: []Pair{},
		},
		{
			name: "max distance",
			q:    []feature.Descriptor{flip(r, base, 70)},
			t:    []feature.Descriptor{base, other},
			opt:  MatchOptions{MaxDistance: 80},
			want: []Pair{{Q: 0, T: 0, Dist: 70}},
		},
		{
			// Two queries want the same target: the closer one keeps it.
			name: "one to one",
			q:    []feature.Descriptor{flip(r, base, 12), other, flip(r, base, 5)},
			t:    []feature.Descriptor{base, flip(r, other, 2)},
			want: []Pair{{Q: 1, T: 1, Dist: 2}, {Q: 2, T: 0, Dist: 5}},
		},
		{
			name: "one to one cross",
			q:    []feature.Descriptor{flip(r, base, 12), other, flip(r, base, 5)},
			t:    []feature.Descriptor{base, flip(r, other, 2)},
			opt:  MatchOptions{CrossCheck: true},
			want: []Pair{{Q: 1, T: 1, Dist: 2}, {Q: 2, T: 0, Dist: 5}},
		},
		{name: "empty query", t: []feature.Descriptor{base}, want: []Pair{}},
		{name: "empty target", q: []feature.Descriptor{base}, want: []Pair{}},
	}
	for _, tc := range tests {
		q := &feature.Set{Descriptors: tc.q}
		tg := &feature.Set{Descriptors: tc.t}
		got := Match(q, tg, tc.opt, make([]Pair, 5))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A query bucket the target does not have matches nothing.
func TestMatchUnknownBucket(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	d := randDesc(r)
	q := &feature.Set{Descriptors: []feature.Descriptor{d}}
	tg := &feature.Set{Descriptors: []feature.Descriptor{d}}
	got := Match(q, tg, MatchOptions{QBuckets: []uint32{1}, TBuckets: []uint32{2}}, nil)
	if len(got) != 0 {
		t.Errorf("got %+v", got)
	}
	got = Match(q, tg, MatchOptions{QBuckets: []uint32{2}, TBuckets: []uint32{2}}, nil)
	if len(got) != 1 {
		t.Errorf("same bucket: got %+v", got)
	}
}

func benchSets(n int) (q, t *feature.Set, qb, tb []uint32) {
	r := rand.New(rand.NewPCG(1, 2))
	sc := makeMatchScene(r, n/2, n/2, n/2, 20)
	return sc.q, sc.t, sc.qb, sc.tb
}

func BenchmarkMatchBrute1000x1000(b *testing.B) {
	q, t, _, _ := benchSets(1000)
	out := make([]Pair, 0, 1000)
	for b.Loop() {
		out = Match(q, t, MatchOptions{}, out)
	}
}

func BenchmarkMatchBruteCross1000x1000(b *testing.B) {
	q, t, _, _ := benchSets(1000)
	out := make([]Pair, 0, 1000)
	for b.Loop() {
		out = Match(q, t, MatchOptions{CrossCheck: true}, out)
	}
}

// 256 buckets over 1000x1000 descriptors, target prepared once.
func BenchmarkMatchBucketed(b *testing.B) {
	q, t, qb, tb := benchSets(1000)
	p := Prepare(t, tb)
	out := make([]Pair, 0, 1000)
	for b.Loop() {
		out = MatchPrepared(q, qb, p, MatchOptions{}, out)
	}
}

func BenchmarkPrepare(b *testing.B) {
	_, t, _, tb := benchSets(1000)
	for b.Loop() {
		Prepare(t, tb)
	}
}
