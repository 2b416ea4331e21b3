package index

import (
	"math/bits"

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
// words, nearest first (ties in the order the frontier was expanded, the
// frontier's own order and then tree order); buf is scratch space that may
// be nil, returned grown for reuse.
func (v *Vocabulary) LookupMulti(d *feature.Descriptor, slack, maxWords int, words []uint32, buf []BeamNode) ([]uint32, []BeamNode) {
	_, words, buf = v.lookupBeam(d, slack, maxWords, words, buf, false, nil)
	return words, buf
}

// LookupBeam is LookupLevels and LookupMulti in one descent: it returns
// LookupLevels's word, fills nodes as LookupLevels does and appends
// LookupMulti's words. The greedy path runs through the beam's nearest
// nodes, whose children the beam measures anyway; only where the path
// leaves the beam does it cost distances of its own.
func (v *Vocabulary) LookupBeam(d *feature.Descriptor, nodes []uint32, slack, maxWords int, words []uint32, buf []BeamNode) (uint32, []uint32, []BeamNode) {
	return v.lookupBeam(d, slack, maxWords, words, buf, true, nodes)
}

// lookupBeam descends the beam and, if greedy, the greedy path.
func (v *Vocabulary) lookupBeam(d *feature.Descriptor, slack, maxWords int, words []uint32, buf []BeamNode, greedy bool, nodes []uint32) (uint32, []uint32, []BeamNode) {
	// A frontier never holds more nodes than there are words (their
	// subtrees are disjoint), which bounds the scratch whatever is asked.
	k := min(max(maxWords, 1), v.words)
	size := k + 1 + k*v.branching
	if cap(buf) < size {
		buf = make([]BeamNode, size)
	}
	buf = buf[:size]
	front, cand := buf[:k+1:k+1], buf[k+1:]
	front[0] = BeamNode{}
	nf := 1
	// g is the greedy path's node, level its depth; on the beam while the
	// beam keeps it.
	g, level, onBeam := uint32(0), 0, greedy
	for {
		// Every child of the frontier is measured before any is
		// compared, so that the centroid runs of all frontier nodes are
		// fetched together rather than one after another behind
		// mispredicted comparisons.
		nc := 0
		best := int(^uint(0) >> 1)
		inner := false
		for _, f := range front[:nf] {
			nd := &v.nodes[f.ID]
			if nd.n == 0 {
				// Leaves of shallow branches compete with their
				// cousins' children at the distance they had.
				cand[nc] = f
				nc++
				best = min(best, f.Dist)
				continue
			}
			inner = true
			cs := v.centroids[nd.first : nd.first+uint32(nd.n)]
			key := measure(cs, d, nd.first, cand[nc:nc+len(cs)])
			best = min(best, key>>8)
			nc += len(cs)
			if onBeam && f.ID == g {
				g = nd.first + uint32(key&0xff)
				if level < len(nodes) {
					nodes[level] = g
				}
				level++
			}
		}
		if !inner {
			for _, f := range front[:nf] {
				words = append(words, v.nodes[f.ID].word)
			}
			break
		}
		nf = selectBeam(cand[:nc], best, slack, front)
		if onBeam && v.nodes[g].n > 0 {
			onBeam = false
			for _, f := range front[:nf] {
				onBeam = onBeam || f.ID == g
			}
		}
	}
	if !greedy {
		return 0, words, buf
	}
	for v.nodes[g].n > 0 {
		g = v.nearestChild(&v.nodes[g], d)
		if level < len(nodes) {
			nodes[level] = g
		}
		level++
	}
	for ; level < len(nodes); level++ {
		nodes[level] = g
	}
	return v.nodes[g].word, words, buf
}

// measure sets out[i] to child first+i and its distance from d, cs[i] being
// its centroid, and returns the least distance<<8 | its index (the first on
// ties: the greedy descent's choice). It is kept out of line, like
// selectBeam: inlined into the beam's loop, whose many live values leave
// few registers, every distance reloaded its operands from the stack.
//
//go:noinline
func measure(cs []feature.Descriptor, d *feature.Descriptor, first uint32, out []BeamNode) int {
	q0, q1, q2, q3 := d[0], d[1], d[2], d[3]
	out = out[:len(cs)]
	best := 1 << 30
	for i := range cs {
		x := &cs[i]
		dist := bits.OnesCount64(x[0]^q0) + bits.OnesCount64(x[1]^q1) +
			bits.OnesCount64(x[2]^q2) + bits.OnesCount64(x[3]^q3)
		out[i] = BeamNode{ID: first + uint32(i), Dist: dist}
		// Without a branch: the nearest changes unpredictably.
		diff := (dist<<8 | i) - best
		best += diff & (diff >> 63)
	}
	return best
}

// selectBeam puts the nodes of cand within slack of best, the least
// distance in cand, at the start of front, nearest first, in their order in
// cand among equals (a stable sort), at most len(front)-1 of them; the last
// slot of front is spare. It returns how many it put.
//
//go:noinline
func selectBeam(cand []BeamNode, best, slack int, front []BeamNode) int {
	k := len(front) - 1
	var counts [64]int32
	if slack < 0 || slack >= len(counts) {
		// Insertion after equals keeps the order of a stable sort.
		n := 0
		for _, c := range cand {
			if c.Dist <= best+slack {
				n = beamInsert(front[:k], n, c)
			}
		}
		return n
	}
	// Most children lie beyond the slack: drop them first, writing every
	// child and advancing only past the kept ones, which needs no branch.
	lim := best + slack
	m := 0
	for _, c := range cand {
		cand[m] = c
		m += 1 - int(uint(lim-c.Dist)>>63)
	}
	// A counting sort by distance above the nearest is stable and has no
	// data-dependent branches, where insertion mispredicts on most of the
	// near ties random descriptors have. Nodes placed at k or beyond land
	// on the spare slot.
	bins := counts[:slack+1]
	at := int32(0)
	for _, c := range cand[:m] {
		bins[c.Dist-best]++
	}
	for i, n := range bins {
		bins[i] = at
		at += n
	}
	for _, c := range cand[:m] {
		o := c.Dist - best
		p := bins[o]
		bins[o] = p + 1
		front[min(int(p), k)] = c
	}
	return min(m, k)
}

// beamInsert inserts b into s[:n], sorted by distance, after the nodes at
// the same distance, dropping the last when s is full. It returns the new
// length.
func beamInsert(s []BeamNode, n int, b BeamNode) int {
	if n == len(s) {
		if b.Dist >= s[n-1].Dist {
			return n
		}
		n--
	}
	j := n
	for j > 0 && s[j-1].Dist > b.Dist {
		s[j] = s[j-1]
		j--
	}
	s[j] = b
	return n + 1
}
