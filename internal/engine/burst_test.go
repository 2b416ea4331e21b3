package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/index"
)

func TestBurstWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() feature.Descriptor {
		return feature.Descriptor{rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64()}
	}
	// flip returns d with n bits changed.
	flip := func(d feature.Descriptor, n int) feature.Descriptor {
		for i := range n {
			d[i%4] ^= 1 << (uint(i) * 7 % 64)
		}
		return d
	}
	tile := random()
	ds := []feature.Descriptor{
		tile, flip(tile, 20), flip(tile, 40), // three repeats of one element, word 7
		flip(tile, 30), // the same element, but looked up in another word
		random(),       // a distinctive descriptor, word 7
		random(),       // another, word 9
	}
	words := []uint32{7, 7, 7, 8, 7, 9}
	want := []float32{1.0 / 3, 1.0 / 3, 1.0 / 3, 1, 1, 1}
	vq := make([]index.VoteQuery, len(ds))
	burstWeights(ds, words, 64, vq, nil, nil)
	for i := range vq {
		if vq[i].Weight != want[i] {
			t.Errorf("descriptor %d: weight %.3f, want %.3f", i, vq[i].Weight, want[i])
		}
	}
}
