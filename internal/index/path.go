package index

import "github.com/opencrs/opencrs/internal/feature"

// LookupLevels is Lookup that also records in nodes[l] the node passed at
// level l+1, for l < len(nodes) (the leaf when the branch is shallower).
// Coarse nodes bound descriptor matching at two granularities with a single
// descent.
func (v *Vocabulary) LookupLevels(d *feature.Descriptor, nodes []uint32) (word uint32) {
	cur := uint32(0)
	nd := &v.nodes[0]
	l := 0
	for nd.n > 0 {
		cur = v.nearestChild(nd, d)
		nd = &v.nodes[cur]
		if l < len(nodes) {
			nodes[l] = cur
		}
		l++
	}
	for ; l < len(nodes); l++ {
		nodes[l] = cur
	}
	return nd.word
}
