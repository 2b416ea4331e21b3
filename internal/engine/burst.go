package engine

import (
	"math/bits"
	"slices"

	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/index"
)

// burstWeights lowers the votes of query descriptors that repeat within
// the query. A tiled pattern, a brick wall or a printed texture behind the
// target yields dozens of near-identical descriptors; each of them votes,
// and a database target with a similar texture collects all those votes
// in one bin, outranking the few distinctive votes of a small true target.
// With 10,000 distractors such textures put distractors at up to 115
// votes against a true target's 2–12 (docs/BENCHMARKS.md). Counting a repeated
// element about once restores the ranking: a descriptor with c near
// neighbours (same vocabulary word, Hamming distance ≤ radius) votes with
// weight 1/(1+c). Only descriptors sharing a word are compared, so the
// cost stays far below all pairs.
func burstWeights(ds []feature.Descriptor, words []uint32, radius int, vq []index.VoteQuery, cnt, order []int32) ([]int32, []int32) {
	n := len(ds)
	cnt = slices.Grow(cnt[:0], n)[:n]
	clear(cnt)
	order = slices.Grow(order[:0], n)[:n]
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return int(words[a]) - int(words[b]) })
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && words[order[hi]] == words[order[lo]] {
			hi++
		}
		for a := lo; a < hi; a++ {
			da := &ds[order[a]]
			for b := a + 1; b < hi; b++ {
				db := &ds[order[b]]
				d := bits.OnesCount64(da[0]^db[0]) + bits.OnesCount64(da[1]^db[1]) +
					bits.OnesCount64(da[2]^db[2]) + bits.OnesCount64(da[3]^db[3])
				if d <= radius {
					cnt[order[a]]++
					cnt[order[b]]++
				}
			}
		}
		lo = hi
	}
	for i := range vq {
		vq[i].Weight = 1 / float32(1+cnt[i])
	}
	return cnt, order
}
