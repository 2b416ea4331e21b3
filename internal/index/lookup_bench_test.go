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

// The engine's settings: the path to level 2 and a beam of 4 words within
// 8 bits, for every query descriptor.
func BenchmarkLookupLevels(b *testing.B) {
	v, err := DefaultVocabulary()
	if err != nil {
		b.Fatal(err)
	}
	for _, near := range []bool{false, true} {
		qs := benchQueries(v, near)
		b.Run(map[bool]string{false: "random", true: "near"}[near], func(b *testing.B) {
			var path [2]uint32
			var sink uint32
			for i := 0; b.Loop(); i++ {
				sink += v.LookupLevels(&qs[i&4095], path[:])
			}
			_ = sink
		})
	}
}

func BenchmarkLookupMulti(b *testing.B) {
	v, err := DefaultVocabulary()
	if err != nil {
		b.Fatal(err)
	}
	for _, near := range []bool{false, true} {
		qs := benchQueries(v, near)
		b.Run(map[bool]string{false: "random", true: "near"}[near], func(b *testing.B) {
			var words []uint32
			var buf []BeamNode
			for i := 0; b.Loop(); i++ {
				words, buf = v.LookupMulti(&qs[i&4095], 8, 4, words[:0], buf)
			}
		})
	}
}

// BenchmarkLookupBoth is what a search pays per query descriptor: the path
// and the beam.
func BenchmarkLookupBoth(b *testing.B) {
	v, err := DefaultVocabulary()
	if err != nil {
		b.Fatal(err)
	}
	for _, near := range []bool{false, true} {
		qs := benchQueries(v, near)
		b.Run(map[bool]string{false: "random", true: "near"}[near], func(b *testing.B) {
			var path [2]uint32
			var words []uint32
			var buf []BeamNode
			var sink uint32
			for i := 0; b.Loop(); i++ {
				sink += v.LookupLevels(&qs[i&4095], path[:])
				words, buf = v.LookupMulti(&qs[i&4095], 8, 4, words[:0], buf)
			}
			_ = sink
		})
	}
}

// BenchmarkLookupBeam is BenchmarkLookupBoth in one call.
func BenchmarkLookupBeam(b *testing.B) {
	v, err := DefaultVocabulary()
	if err != nil {
		b.Fatal(err)
	}
	for _, near := range []bool{false, true} {
		qs := benchQueries(v, near)
		b.Run(map[bool]string{false: "random", true: "near"}[near], func(b *testing.B) {
			var path [2]uint32
			var words []uint32
			var buf []BeamNode
			var sink, w uint32
			for i := 0; b.Loop(); i++ {
				w, words, buf = v.LookupBeam(&qs[i&4095], path[:], 8, 4, words[:0], buf)
				sink += w
			}
			_ = sink
		})
	}
}
