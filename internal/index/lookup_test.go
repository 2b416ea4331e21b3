package index

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

// refLevels is the greedy descent written plainly: the first nearest child
// at every level, the path padded with the leaf.
func refLevels(v *Vocabulary, d *feature.Descriptor, levels int) (uint32, []uint32) {
	path := make([]uint32, 0, levels)
	cur := uint32(0)
	for v.nodes[cur].n > 0 {
		nd := v.nodes[cur]
		best, bestD := nd.first, 1<<30
		for c := nd.first; c < nd.first+uint32(nd.n); c++ {
			if dd := feature.Distance(&v.centroids[c], d); dd < bestD {
				best, bestD = c, dd
			}
		}
		cur = best
		path = append(path, cur)
	}
	for len(path) < levels {
		path = append(path, cur)
	}
	return v.nodes[cur].word, path[:levels]
}

// refMulti is the beam descent written plainly: expand the frontier in
// order (a leaf stands for itself), keep what lies within slack of the
// nearest, stable-sort by distance, cut to maxWords.
func refMulti(v *Vocabulary, d *feature.Descriptor, slack, maxWords int) []uint32 {
	type cand struct{ id, dist int }
	maxWords = max(maxWords, 1)
	front := []cand{{0, 0}}
	for {
		var next []cand
		inner := false
		for _, f := range front {
			nd := v.nodes[f.id]
			if nd.n == 0 {
				next = append(next, f)
				continue
			}
			inner = true
			for c := int(nd.first); c < int(nd.first)+int(nd.n); c++ {
				next = append(next, cand{c, feature.Distance(&v.centroids[c], d)})
			}
		}
		if !inner {
			words := []uint32{}
			for _, f := range front {
				words = append(words, v.nodes[f.id].word)
			}
			return words
		}
		best := 1 << 30
		for _, c := range next {
			best = min(best, c.dist)
		}
		var kept []cand
		for _, c := range next {
			if c.dist <= best+slack {
				kept = append(kept, c)
			}
		}
		sort.SliceStable(kept, func(i, j int) bool { return kept[i].dist < kept[j].dist })
		front = kept[:min(len(kept), maxWords)]
	}
}

// randomTree builds a vocabulary of random shape, with leaves at every level
// below the root, whose siblings' centroids differ from a common one by a
// few bits, so that descents meet many ties.
func randomTree(r *rand.Rand, k, depth int) *Vocabulary {
	nchild, level := []uint8{uint8(k)}, []int{0}
	for i := 0; i < len(nchild); i++ {
		for range nchild[i] {
			l := level[i] + 1
			n := uint8(0)
			if l < depth && r.IntN(6) > 0 {
				n = uint8(1 + r.IntN(k))
			}
			nchild = append(nchild, n)
			level = append(level, l)
		}
	}
	cents := make([]feature.Descriptor, len(nchild))
	next := 1
	for i := range nchild {
		base := randomDescriptor(r)
		for c := next; c < next+int(nchild[i]); c++ {
			cents[c] = base
			for range r.IntN(4) {
				b := r.IntN(256)
				cents[c][b>>6] ^= 1 << (b & 63)
			}
		}
		next += int(nchild[i])
	}
	v, err := newVocabulary(k, depth, nchild, cents, nil)
	if err != nil {
		panic(err)
	}
	return v
}

// lookupQueries returns random descriptors and centroids of random nodes
// with up to three bits flipped: near a centroid, a descriptor is at the
// same or nearly the same distance from its siblings.
func lookupQueries(r *rand.Rand, v *Vocabulary, n int) []feature.Descriptor {
	qs := make([]feature.Descriptor, n)
	for i := range qs {
		if i%3 == 0 || len(v.nodes) == 1 {
			qs[i] = randomDescriptor(r)
			continue
		}
		qs[i] = v.centroids[1+r.IntN(len(v.nodes)-1)]
		for range r.IntN(4) {
			b := r.IntN(256)
			qs[i][b>>6] ^= 1 << (b & 63)
		}
	}
	return qs
}

func TestLookupsMatchReference(t *testing.T) {
	def, err := DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	trained, _ := trainSmall(t, 3, 8, 3)
	r := rand.New(rand.NewPCG(11, 12))
	vocabs := []struct {
		name string
		v    *Vocabulary
		n    int
	}{
		{"default", def, 3000},
		{"trained", trained, 3000},
		{"random-3x4", randomTree(r, 3, 4), 2000},
		{"random-10x3", randomTree(r, 10, 3), 2000},
		{"random-2x6", randomTree(r, 2, 6), 2000},
		{"root-only", must(newVocabulary(2, 1, []uint8{0}, make([]feature.Descriptor, 1), nil)), 10},
	}
	params := [][2]int{{8, 4}, {0, 1}, {0, 4}, {1, 2}, {4, 3}, {8, 1}, {8, 6}, {8, 8}, {16, 16}, {40, 32}, {300, 5}, {-1, 4}, {8, 0}}
	for _, tc := range vocabs {
		t.Run(tc.name, func(t *testing.T) {
			qs := lookupQueries(r, tc.v, tc.n)
			var words []uint32
			var buf []BeamNode
			for i := range qs {
				d := &qs[i]
				for levels := range 4 {
					want, wantPath := refLevels(tc.v, d, levels)
					path := make([]uint32, levels)
					if got := tc.v.LookupLevels(d, path); got != want || !slices.Equal(path, wantPath) {
						t.Fatalf("query %d: LookupLevels(%d) = %d %v, want %d %v", i, levels, got, path, want, wantPath)
					}
				}
				for _, p := range params {
					want := refMulti(tc.v, d, p[0], p[1])
					words, buf = tc.v.LookupMulti(d, p[0], p[1], append(words[:0], 7), buf)
					if words[0] != 7 || !slices.Equal(words[1:], want) {
						t.Fatalf("query %d: LookupMulti(slack %d, %d words) = %v, want 7 then %v", i, p[0], p[1], words, want)
					}
					levels := i % 4
					wantWord, wantPath := refLevels(tc.v, d, levels)
					path := make([]uint32, levels)
					var w uint32
					w, words, buf = tc.v.LookupBeam(d, path, p[0], p[1], append(words[:0], 7), buf)
					if w != wantWord || !slices.Equal(path, wantPath) || words[0] != 7 || !slices.Equal(words[1:], want) {
						t.Fatalf("query %d: LookupBeam(%d levels, slack %d, %d words) = %d %v %v, want %d %v 7 then %v",
							i, levels, p[0], p[1], w, path, words, wantWord, wantPath, want)
					}
				}
			}
		})
	}
}

func must(v *Vocabulary, err error) *Vocabulary {
	if err != nil {
		panic(err)
	}
	return v
}
