package index

import (
	"math/rand/v2"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

// benchQueries returns 4096 query descriptors of v: uniformly random ones
// (every descent wanders into a cold part of the tree) or leaf centroids
// with a tenth of their bits flipped, closer to real descriptors, which sit
// near trained words.
func benchQueries(v *Vocabulary, near bool) []feature.Descriptor {
	r := rand.New(rand.NewPCG(1, 2))
	qs := make([]feature.Descriptor, 4096)
	for i := range qs {
		if !near {
			qs[i] = randomDescriptor(r)
			continue
		}
		for {
			id := 1 + r.IntN(len(v.nodes)-1)
			if v.nodes[id].n == 0 {
				qs[i] = noisy(r, v.centroids[id], 0.1)
				break
			}
		}
	}
	return qs
}

// benchLookups runs lookup over the default vocabulary's random and near
// query descriptors, one per iteration, at the engine's settings: the path
// to level 2 and a beam of 4 words within 8 bits.
func benchLookups(b *testing.B, lookup func(v *Vocabulary, q *feature.Descriptor)) {
	v, err := DefaultVocabulary()
	if err != nil {
		b.Fatal(err)
	}
	for _, near := range []bool{false, true} {
		qs := benchQueries(v, near)
		b.Run(map[bool]string{false: "random", true: "near"}[near], func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				lookup(v, &qs[i&4095])
			}
		})
	}
}

func BenchmarkLookupLevels(b *testing.B) {
	var path [2]uint32
	benchLookups(b, func(v *Vocabulary, q *feature.Descriptor) { v.LookupLevels(q, path[:]) })
}

func BenchmarkLookupMulti(b *testing.B) {
	var words []uint32
	var buf []BeamNode
	benchLookups(b, func(v *Vocabulary, q *feature.Descriptor) { words, buf = v.LookupMulti(q, 8, 4, words[:0], buf) })
}

// BenchmarkLookupBoth is what a search paid per query descriptor before
// LookupBeam: the path, then the beam.
func BenchmarkLookupBoth(b *testing.B) {
	var path [2]uint32
	var words []uint32
	var buf []BeamNode
	benchLookups(b, func(v *Vocabulary, q *feature.Descriptor) {
		v.LookupLevels(q, path[:])
		words, buf = v.LookupMulti(q, 8, 4, words[:0], buf)
	})
}

// BenchmarkLookupBeam is BenchmarkLookupBoth in one call, what a search
// pays now.
func BenchmarkLookupBeam(b *testing.B) {
	var path [2]uint32
	var words []uint32
	var buf []BeamNode
	benchLookups(b, func(v *Vocabulary, q *feature.Descriptor) {
		_, words, buf = v.LookupBeam(q, path[:], 8, 4, words[:0], buf)
	})
}
