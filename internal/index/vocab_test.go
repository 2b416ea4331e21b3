package index

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

var writeSynthetic = flag.String("write-synthetic-vocab", "", "train a small vocabulary on synthetic descriptors and write it to this file")

func randomDescriptor(r *rand.Rand) feature.Descriptor {
	return feature.Descriptor{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
}

// noisy flips bits of d independently with probability p.
func noisy(r *rand.Rand, d feature.Descriptor, p float64) feature.Descriptor {
	for b := 0; b < 256; b++ {
		if r.Float64() < p {
			d[b>>6] ^= 1 << (b & 63)
		}
	}
	return d
}

// clustered returns images of descriptors drawn around centres with noise,
// and the centre index of each descriptor (flattened in image order).
func clustered(r *rand.Rand, centres []feature.Descriptor, images, perImage int, noise float64) ([][]feature.Descriptor, []int) {
	var out [][]feature.Descriptor
	var labels []int
	for range images {
		im := make([]feature.Descriptor, perImage)
		for j := range im {
			c := r.IntN(len(centres))
			im[j] = noisy(r, centres[c], noise)
			labels = append(labels, c)
		}
		out = append(out, im)
	}
	return out, labels
}

func trainSmall(t testing.TB, seed uint64, k, depth int) (*Vocabulary, [][]feature.Descriptor) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	centres := make([]feature.Descriptor, 300)
	for i := range centres {
		centres[i] = randomDescriptor(r)
	}
	images, _ := clustered(r, centres, 40, 250, 0.05)
	v, err := Train(context.Background(), images, TrainConfig{Branching: k, Depth: depth, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return v, images
}

func TestWriteSyntheticVocabulary(t *testing.T) {
	if *writeSynthetic == "" {
		t.Skip("set -write-synthetic-vocab to regenerate the placeholder vocabulary")
	}
	v, _ := trainSmall(t, 1, 10, 3)
	var b bytes.Buffer
	if _, err := v.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*writeSynthetic, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultVocabulary(t *testing.T) {
	v, err := DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	if v.Words() < 2 {
		t.Fatalf("default vocabulary has %d words", v.Words())
	}
	d := randomDescriptor(rand.New(rand.NewPCG(1, 1)))
	if w := v.Lookup(&d); int(w) >= v.Words() {
		t.Fatalf("word %d out of range", w)
	}
}

// bruteLookup descends the tree evaluating every child, the reference for
// Lookup's flat-array walk.
func bruteLookup(v *Vocabulary, d *feature.Descriptor) (word uint32, path []uint32) {
	cur := uint32(0)
	path = []uint32{0}
	for v.nodes[cur].n > 0 {
		nd := v.nodes[cur]
		best, bestD := nd.first, 1000
		for c := nd.first; c < nd.first+uint32(nd.n); c++ {
			if dd := feature.Distance(&v.centroids[c], d); dd < bestD {
				best, bestD = c, dd
			}
		}
		cur = best
		path = append(path, cur)
	}
	return v.nodes[cur].word, path
}

func TestLookupFollowsNearestCentroids(t *testing.T) {
	v, images := trainSmall(t, 3, 8, 3)
	r := rand.New(rand.NewPCG(5, 5))
	queries := append([]feature.Descriptor(nil), images[0]...)
	for range 200 {
		queries = append(queries, randomDescriptor(r))
	}
	for i := range queries {
		d := &queries[i]
		want, path := bruteLookup(v, d)
		if got := v.Lookup(d); got != want {
			t.Fatalf("Lookup = %d, want %d", got, want)
		}
		if again := v.Lookup(d); again != want {
			t.Fatalf("Lookup not repeatable: %d then %d", want, again)
		}
		for level := 0; level <= v.Depth()+1; level++ {
			w, node := v.LookupPath(d, level)
			wantNode := path[min(level, len(path)-1)]
			if w != want || node != wantNode {
				t.Fatalf("LookupPath(level %d) = (%d, %d), want (%d, %d)", level, w, node, want, wantNode)
			}
		}
	}
}

func TestTrainRecoversClusters(t *testing.T) {
	tests := []struct {
		name         string
		centres      int
		k, depth     int
		noise        float64
		minDistinct  float64 // fraction of centres that get their own word
		minAgreement float64 // fraction of descriptors mapped to their centre's majority word
		minPurity    float64 // fraction of descriptors whose word's majority centre is theirs
	}{
		{"flat", 8, 8, 1, 0.05, 1, 0.99, 0.99},
		{"two levels", 64, 8, 2, 0.05, 0.85, 0.9, 0.9},
		// More leaves than centres: clusters may split into several
		// words, but words must not mix centres.
		{"deep", 100, 10, 3, 0.08, 0.85, 0.6, 0.97},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, uint64(tc.centres)))
			centres := make([]feature.Descriptor, tc.centres)
			for i := range centres {
				centres[i] = randomDescriptor(r)
			}
			images, labels := clustered(r, centres, 20, 10*tc.centres, tc.noise)
			v, err := Train(context.Background(), images, TrainConfig{Branching: tc.k, Depth: tc.depth, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			// Majority word of each centre and how many descriptors agree.
			votes := make([]map[uint32]int, tc.centres)
			for i := range votes {
				votes[i] = map[uint32]int{}
			}
			i := 0
			for _, im := range images {
				for j := range im {
					votes[labels[i]][v.Lookup(&im[j])]++
					i++
				}
			}
			agree, owner := 0, map[uint32]bool{}
			for _, vs := range votes {
				best, bestN := uint32(0), -1
				for w, n := range vs {
					if n > bestN || (n == bestN && w < best) {
						best, bestN = w, n
					}
				}
				agree += bestN
				owner[best] = true
			}
			if got := float64(len(owner)) / float64(tc.centres); got < tc.minDistinct {
				t.Errorf("%d centres map to %d distinct words (%.2f < %.2f)", tc.centres, len(owner), got, tc.minDistinct)
			}
			if got := float64(agree) / float64(i); got < tc.minAgreement {
				t.Errorf("agreement %.3f < %.3f", got, tc.minAgreement)
			}
			byWord := map[uint32]map[int]int{}
			for c, vs := range votes {
				for w, n := range vs {
					if byWord[w] == nil {
						byWord[w] = map[int]int{}
					}
					byWord[w][c] += n
				}
			}
			pure := 0
			for _, cs := range byWord {
				best := 0
				for _, n := range cs {
					best = max(best, n)
				}
				pure += best
			}
			if got := float64(pure) / float64(i); got < tc.minPurity {
				t.Errorf("purity %.3f < %.3f", got, tc.minPurity)
			}
		})
	}
}

func TestTrainDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	centres := make([]feature.Descriptor, 50)
	for i := range centres {
		centres[i] = randomDescriptor(r)
	}
	images, _ := clustered(r, centres, 30, 3000, 0.1) // big enough for parallel assignment at the root
	encode := func(workers int) []byte {
		v, err := Train(context.Background(), images, TrainConfig{Branching: 6, Depth: 3, Seed: 9, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := v.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b := encode(1), encode(4)
	if !bytes.Equal(a, b) {
		t.Fatal("training with 1 and 4 workers gave different vocabularies")
	}
}

func TestTrainCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := rand.New(rand.NewPCG(1, 1))
	im := make([]feature.Descriptor, 100)
	for i := range im {
		im[i] = randomDescriptor(r)
	}
	if _, err := Train(ctx, [][]feature.Descriptor{im}, TrainConfig{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestVocabularyRoundTrip(t *testing.T) {
	v, images := trainSmall(t, 4, 10, 2)
	var b bytes.Buffer
	if _, err := v.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	enc := b.Bytes()
	got, err := ReadVocabulary(bytes.NewReader(enc))
	if err != nil {
		t.Fatal(err)
	}
	if got.Words() != v.Words() || got.Nodes() != v.Nodes() || got.Branching() != v.Branching() || got.Depth() != v.Depth() {
		t.Fatalf("shape changed: %d/%d words, %d/%d nodes", got.Words(), v.Words(), got.Nodes(), v.Nodes())
	}
	for w := range v.Words() {
		if got.IDF(uint32(w)) != v.IDF(uint32(w)) {
			t.Fatalf("idf of %d changed", w)
		}
	}
	for i := range images[0] {
		if a, b := v.Lookup(&images[0][i]), got.Lookup(&images[0][i]); a != b {
			t.Fatalf("lookup changed: %d vs %d", a, b)
		}
	}

	corrupt := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated header", enc[:10]},
		{"truncated body", enc[:len(enc)-5]},
		{"bad magic", flip(enc, 0)},
		{"bad version", flip(enc, 4)},
		{"flipped centroid bit", flip(enc, len(enc)/2)},
		{"flipped checksum", flip(enc, len(enc)-1)},
		{"huge node count", flip(enc, 4+3*4+3)},
	}
	for _, tc := range corrupt {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadVocabulary(bytes.NewReader(tc.data)); err == nil {
				t.Fatal("decoded a corrupt vocabulary")
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestNewVocabularyRejectsBadShapes(t *testing.T) {
	tests := []struct {
		name   string
		nchild []uint8
	}{
		{"orphan", []uint8{1, 0, 0}},
		{"children beyond table", []uint8{3, 0}},
		{"too deep", []uint8{1, 1, 1, 0}},
		{"over branching", []uint8{3, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newVocabulary(2, 2, tc.nchild, make([]feature.Descriptor, len(tc.nchild)), nil); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	qs := make([]feature.Descriptor, 4096)
	for i := range qs {
		qs[i] = randomDescriptor(r)
	}
	run := func(b *testing.B, v *Vocabulary) {
		var sink uint32
		for i := 0; b.Loop(); i++ {
			sink += v.Lookup(&qs[i&4095])
		}
		_ = sink
	}
	b.Run("default", func(b *testing.B) {
		v, err := DefaultVocabulary()
		if err != nil {
			b.Fatal(err)
		}
		run(b, v)
	})
	b.Run("full-10x5", func(b *testing.B) {
		// A complete tree (111 111 nodes, 10⁵ words) with random
		// centroids: every lookup computes 50 distances.
		const k, depth = 10, 5
		var nchild []uint8
		levelSize := 1
		for l := 0; l <= depth; l++ {
			for range levelSize {
				if l < depth {
					nchild = append(nchild, k)
				} else {
					nchild = append(nchild, 0)
				}
			}
			levelSize *= k
		}
		cents := make([]feature.Descriptor, len(nchild))
		for i := range cents {
			cents[i] = randomDescriptor(r)
		}
		v, err := newVocabulary(k, depth, nchild, cents, nil)
		if err != nil {
			b.Fatal(err)
		}
		run(b, v)
	})
}

func BenchmarkDefaultVocabulary(b *testing.B) {
	for b.Loop() {
		if _, err := DefaultVocabulary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTrain(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	centres := make([]feature.Descriptor, 1000)
	for i := range centres {
		centres[i] = randomDescriptor(r)
	}
	images, _ := clustered(r, centres, 100, 1000, 0.1)
	for b.Loop() {
		if _, err := Train(context.Background(), images, TrainConfig{Branching: 10, Depth: 4, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
