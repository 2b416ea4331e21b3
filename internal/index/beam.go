package index

import (
	"slices"

	"github.com/opencrs/opencrs/internal/feature"
)

// BeamNode is a node reached by LookupMulti's descent and its distance.
type BeamNode struct {
	ID   uint32
	Dist int
}

// LookupMulti quantises d to up to maxWords leaf words by a beam descent: at
// every level it keeps the children whose centroid lies within slack bits of
// the nearest one, at most maxWords of them. Binary descriptors sit nearly
// as far from several centroids as from the nearest, so the greedy path of a
// descriptor and that of its noisy match often part early (true pairs share
// a leaf only about one time in ten); following the near ties recovers a
// good share of them at a cost linear in maxWords. Words are appended to
// words, nearest first; buf is scratch space that may be nil, returned grown
// for reuse.
func (v *Vocabulary) LookupMulti(d *feature.Descriptor, slack, maxWords int, words []uint32, buf []BeamNode) ([]uint32, []BeamNode) {
	maxWords = max(maxWords, 1)
	front := append(buf[:0], BeamNode{ID: 0})
	for {
		// Children are appended after the current frontier, then moved to
		// the front; leaves of shallow branches are carried along.
		n := len(front)
		inner := false
		for i := 0; i < n; i++ {
			nd := &v.nodes[front[i].ID]
			if nd.n == 0 {
				front = append(front, front[i])
				continue
			}
			inner = true
			cs := v.centroids[nd.first : nd.first+uint32(nd.n)]
			for c := range cs {
				front = append(front, BeamNode{ID: nd.first + uint32(c), Dist: feature.Distance(&cs[c], d)})
			}
		}
		next := front[n:]
		if !inner {
			for _, b := range next {
				words = append(words, v.nodes[b.ID].word)
			}
			return words, front[:0]
		}
		// Keep the nodes within slack of the nearest, at most maxWords of
		// them, nearest first (stable, so ties keep tree order).
		best := next[0].Dist
		for _, b := range next[1:] {
			best = min(best, b.Dist)
		}
		k := 0
		for _, b := range next {
			if b.Dist <= best+slack {
				next[k] = b
				k++
			}
		}
		next = next[:k]
		if k > 1 {
			slices.SortStableFunc(next, func(a, b BeamNode) int { return a.Dist - b.Dist })
		}
		k = min(k, maxWords)
		front = append(front[:0], next[:k]...)
	}
}
