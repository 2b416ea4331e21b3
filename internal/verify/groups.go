package verify

import (
	"slices"
	"sync"

	"github.com/opencrs/opencrs/internal/feature"
)

// QueryGroups is a query's descriptors (all, or a subset such as those of
// one window) grouped by bucket. Built once per query, it is matched against
// many prepared targets by a merge join of sorted bucket ids, with no lookup
// per descriptor.
type QueryGroups struct {
	order []int32 // query descriptor indices, grouped by bucket
	keys  []uint32
	spans []span // of order, per key
}

// Len returns the number of query descriptors grouped.
func (g *QueryGroups) Len() int { return len(g.order) }

// GroupQuery groups the query descriptors listed in idx (every descriptor
// when idx is nil) by their bucket, reusing g's memory when g is not nil.
func GroupQuery(buckets []uint32, idx []int32, g *QueryGroups) *QueryGroups {
	if g == nil {
		g = new(QueryGroups)
	}
	g.order = g.order[:0]
	if idx == nil {
		for i := range buckets {
			g.order = append(g.order, int32(i))
		}
	} else {
		g.order = append(g.order, idx...)
	}
	slices.SortStableFunc(g.order, func(a, b int32) int {
		switch x, y := buckets[a], buckets[b]; {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	g.keys, g.spans = g.keys[:0], g.spans[:0]
	for i, qi := range g.order {
		b := buckets[qi]
		if n := len(g.keys); n > 0 && g.keys[n-1] == b {
			g.spans[n-1].hi++
			continue
		}
		g.keys = append(g.keys, b)
		g.spans = append(g.spans, span{int32(i), int32(i + 1)})
	}
	return g
}

type groupScratch struct {
	tBestD []uint16
	tBestQ []int32
	owner  []int32
	cands  []gcand
}

type gcand struct {
	qi, pos int32
	dist    uint16
}

var groupPool = sync.Pool{New: func() any { return new(groupScratch) }}

// MatchGroups is MatchPrepared for grouped query descriptors: with coarse it
// matches within p's parent buckets (p from PrepareCoarse, g grouped by
// parent), otherwise within p's buckets. Pairs carry original query indices.
func MatchGroups(q *feature.Set, g *QueryGroups, p *Prepared, coarse bool, opt MatchOptions, out []Pair) []Pair {
	out = out[:0]
	tg := p.groups
	if coarse {
		tg = p.coarse
	}
	if tg == nil {
		panic("verify: MatchGroups needs a bucketed Prepared")
	}
	maxDist := opt.MaxDistance
	if maxDist <= 0 {
		maxDist = DefaultMaxDistance
	}
	ratio := opt.Ratio
	if ratio == 0 {
		ratio = DefaultRatio
	}
	nt := len(p.desc)
	sc := groupPool.Get().(*groupScratch)
	defer groupPool.Put(sc)
	if cap(sc.owner) < nt {
		sc.owner = make([]int32, nt)
		sc.tBestD = make([]uint16, nt)
		sc.tBestQ = make([]int32, nt)
	}
	owner := sc.owner[:nt]
	for i := range owner {
		owner[i] = -1
	}
	tBestD, tBestQ := sc.tBestD[:nt], sc.tBestQ[:nt]
	if opt.CrossCheck {
		for i := range tBestD {
			tBestD[i] = 0xffff
		}
	}
	cands := sc.cands[:0]
	i, j := 0, 0
	for i < len(g.keys) && j < len(tg.keys) {
		switch qk, tk := g.keys[i], tg.keys[j]; {
		case qk < tk:
			i++
			continue
		case qk > tk:
			j++
			continue
		}
		ts := tg.spans[j]
		td := p.desc[ts.lo:ts.hi]
		for _, qi := range g.order[g.spans[i].lo:g.spans[i].hi] {
			var best, second, bi int
			if opt.CrossCheck {
				best, second, bi = scanCross(&q.Descriptors[qi], td, qi, tBestD[ts.lo:ts.hi], tBestQ[ts.lo:ts.hi])
			} else {
				best, second, bi = scan(&q.Descriptors[qi], td)
			}
			if best <= maxDist && (ratio < 0 || second > 256 || float64(best) < ratio*float64(second)) {
				cands = append(cands, gcand{qi, ts.lo + int32(bi), uint16(best)})
			}
		}
		i++
		j++
	}
	for _, c := range cands {
		if !opt.CrossCheck || tBestQ[c.pos] == c.qi {
			out = addPair(out, owner, c.qi, c.pos, c.dist)
		}
	}
	sc.cands = cands[:0]
	return p.finish(out)
}
