package verify

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/opencrs/opencrs/internal/feature"
)

// Pair is a putative correspondence between query descriptor Q and target
// descriptor T at Hamming distance Dist.
type Pair struct {
	Q, T int32
	Dist uint16
}

// Defaults for MatchOptions.
const (
	DefaultMaxDistance = 64
	DefaultRatio       = 0.8
)

// MatchOptions configures Match. The zero value uses the defaults.
type MatchOptions struct {
	// MaxDistance is the largest accepted Hamming distance of the best
	// match (of 256 bits); 0 means DefaultMaxDistance.
	MaxDistance int
	// Ratio is the nearest/second-nearest distance ratio a match must stay
	// below; 0 means DefaultRatio, a negative value disables the test. A
	// query descriptor with a single candidate (possible when buckets are
	// used) passes the test.
	Ratio float64
	// CrossCheck keeps a pair only if the query descriptor is also the
	// target descriptor's nearest one (among queries in the same bucket).
	CrossCheck bool
	// QBuckets and TBuckets, when both set, are index-aligned with the
	// query and target descriptors: a query descriptor is only compared
	// with target descriptors of the same bucket.
	QBuckets, TBuckets []uint32
}

// Prepared is a target's descriptors grouped by bucket for MatchPrepared.
// Build it once per target with Prepare and reuse it for every query; it is
// read-only after Prepare and safe for concurrent use.
type Prepared struct {
	desc   []feature.Descriptor // grouped by bucket, original order within a bucket
	index  []int32              // original index of desc[k]; nil when not reordered
	groups *groups              // nil when unbucketed
	coarse *groups              // groups of parent buckets; nil unless PrepareCoarse
}

// groups maps bucket ids to spans of a descriptor array: sorted keys and
// their spans, which take a fraction of a map's memory (a database holds one
// per target) and allow merge joins.
type groups struct {
	keys  []uint32
	spans []span
}

// find returns the span of bucket b.
func (g *groups) find(b uint32) (span, bool) {
	i, ok := slices.BinarySearch(g.keys, b)
	if !ok {
		return span{}, false
	}
	return g.spans[i], true
}

type span struct{ lo, hi int32 }

// Len returns the number of target descriptors.
func (p *Prepared) Len() int { return len(p.desc) }

// Prepare groups the descriptors of t by bucket. With nil buckets the result
// matches by brute force. It panics if buckets is non-nil and not
// index-aligned with t.Descriptors, which is a programming error.
func Prepare(t *feature.Set, buckets []uint32) *Prepared {
	if buckets == nil {
		return &Prepared{desc: t.Descriptors}
	}
	if len(buckets) != len(t.Descriptors) {
		panic(fmt.Sprintf("verify: %d buckets for %d descriptors", len(buckets), len(t.Descriptors)))
	}
	// Buckets are sorted by id and descriptors keep their order within
	// one, so the layout, and with it tie-breaking between equally distant
	// descriptors, depends on the ids alone. A search prepares every
	// candidate it reads back from disk, so the slots come from a counting
	// sort over the ids' range when that is small (the nodes of one
	// vocabulary level are numbered contiguously), from a map otherwise.
	lo, hi := uint32(math.MaxUint32), uint32(0)
	for _, b := range buckets {
		lo, hi = min(lo, b), max(hi, b)
	}
	p := &Prepared{
		desc:  make([]feature.Descriptor, len(buckets)),
		index: make([]int32, len(buckets)),
	}
	place := func(i int, k *int32) {
		p.desc[*k] = t.Descriptors[i]
		p.index[*k] = int32(i)
		*k++
	}
	var keys []uint32
	var spans []span
	if len(buckets) > 0 && hi-lo < denseBuckets {
		next := make([]int32, hi-lo+1)
		for _, b := range buckets {
			next[b-lo]++
		}
		off := int32(0)
		for i, c := range next {
			if c > 0 {
				keys = append(keys, lo+uint32(i))
				spans = append(spans, span{off, off + c})
			}
			next[i] = off
			off += c
		}
		for i, b := range buckets {
			place(i, &next[b-lo])
		}
	} else {
		count := make(map[uint32]int32)
		for _, b := range buckets {
			count[b]++
		}
		keys = make([]uint32, 0, len(count))
		for b := range count {
			keys = append(keys, b)
		}
		slices.Sort(keys)
		next := make([]int32, len(keys))
		off := int32(0)
		for k, b := range keys {
			spans = append(spans, span{off, off + count[b]})
			next[k] = off
			off += count[b]
		}
		for i, b := range buckets {
			k, _ := slices.BinarySearch(keys, b)
			place(i, &next[k])
		}
	}
	p.groups = &groups{keys: keys, spans: spans}
	return p
}

// denseBuckets bounds the range of bucket ids Prepare counts in an array.
const denseBuckets = 1 << 16

// PrepareCoarse is Prepare that also groups by parent bucket, so that
// MatchCoarse can match within parents (more true matches, more work) with
// the same Prepared. parents[i] is the parent of buckets[i]; parents must be
// ordered like their children (as vocabulary nodes numbered breadth first
// are), so that each parent's children are contiguous. It panics otherwise,
// which is a programming error.
func PrepareCoarse(t *feature.Set, buckets, parents []uint32) *Prepared {
	p := Prepare(t, buckets)
	if len(parents) != len(buckets) {
		panic(fmt.Sprintf("verify: %d parents for %d buckets", len(parents), len(buckets)))
	}
	// Each bucket's parent, by the bucket's position in the sorted keys:
	// the first descriptor of a bucket gives it, and a bucket whose
	// descriptors name two parents is not a vocabulary's.
	g := p.groups
	parent := make([]uint32, len(g.keys))
	for k, sp := range g.spans {
		parent[k] = parents[p.index[sp.lo]]
		for _, i := range p.index[sp.lo:sp.hi] {
			if parents[i] != parent[k] {
				panic("verify: a bucket with two parents")
			}
		}
	}
	// Children of one parent are adjacent in the sorted keys, so a parent's
	// span is a run of its children's spans. Runs come out in the parents'
	// order for a vocabulary numbered breadth first; otherwise they are
	// sorted, and a parent with two runs is refused.
	cg := &groups{}
	sorted := true
	for k, sp := range g.spans {
		if n := len(cg.keys); n > 0 && cg.keys[n-1] == parent[k] {
			cg.spans[n-1].hi = sp.hi
			continue
		}
		if n := len(cg.keys); n > 0 && cg.keys[n-1] > parent[k] {
			sorted = false
		}
		cg.keys = append(cg.keys, parent[k])
		cg.spans = append(cg.spans, sp)
	}
	if !sorted {
		order := make([]int, len(cg.keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(cg.keys[a], cg.keys[b]) })
		keys, spans := make([]uint32, len(order)), make([]span, len(order))
		for i, o := range order {
			keys[i], spans[i] = cg.keys[o], cg.spans[o]
			if i > 0 && keys[i] == keys[i-1] {
				panic("verify: parent buckets are not contiguous")
			}
		}
		cg.keys, cg.spans = keys, spans
	}
	p.coarse = cg
	return p
}

// MatchCoarse is MatchPrepared within parent buckets: qParents holds the
// parent bucket of each query descriptor. p must come from PrepareCoarse.
func MatchCoarse(q *feature.Set, qParents []uint32, p *Prepared, opt MatchOptions, out []Pair) []Pair {
	if p.coarse == nil {
		panic("verify: MatchCoarse needs PrepareCoarse")
	}
	return match(q, qParents, p, p.coarse, opt, out)
}

// Match matches every query descriptor of q against the target t, see
// MatchOptions, appending the pairs to out[:0] in query order. Each query and
// each target descriptor appears in at most one pair.
func Match(q, t *feature.Set, opt MatchOptions, out []Pair) []Pair {
	if opt.QBuckets != nil && opt.TBuckets != nil {
		return MatchPrepared(q, opt.QBuckets, Prepare(t, opt.TBuckets), opt, out)
	}
	return MatchPrepared(q, nil, Prepare(t, nil), opt, out)
}

// MatchPrepared is Match against a prepared target. qBuckets is used when
// both it and p's buckets are present, otherwise matching is brute force;
// opt's bucket fields are ignored.
func MatchPrepared(q *feature.Set, qBuckets []uint32, p *Prepared, opt MatchOptions, out []Pair) []Pair {
	return match(q, qBuckets, p, p.groups, opt, out)
}

func match(q *feature.Set, qBuckets []uint32, p *Prepared, groups *groups, opt MatchOptions, out []Pair) []Pair {
	out = out[:0]
	maxDist := opt.MaxDistance
	if maxDist <= 0 {
		maxDist = DefaultMaxDistance
	}
	ratio := opt.Ratio
	if ratio == 0 {
		ratio = DefaultRatio
	}
	bucketed := groups != nil && qBuckets != nil
	if bucketed && len(qBuckets) != len(q.Descriptors) {
		panic(fmt.Sprintf("verify: %d query buckets for %d descriptors", len(qBuckets), len(q.Descriptors)))
	}
	nt := len(p.desc)
	if nt == 0 || len(q.Descriptors) == 0 {
		return out
	}

	var tBestD []uint16
	var tBestQ []int32
	if opt.CrossCheck {
		tBestD = make([]uint16, nt)
		tBestQ = make([]int32, nt)
		for i := range tBestD {
			tBestD[i] = 0xffff
		}
	}
	// owner[k] is the index in out of the pair holding target position k,
	// enforcing one pair per target descriptor.
	owner := make([]int32, nt)
	for i := range owner {
		owner[i] = -1
	}
	type cand struct {
		pos  int32
		dist uint16
	}
	// Matching is two passes when cross-checking: the target side's nearest
	// query is only known after every query has been scanned.
	var cands []cand
	if opt.CrossCheck {
		cands = make([]cand, len(q.Descriptors))
	}
	for i := range q.Descriptors {
		lo, hi := int32(0), int32(nt)
		if bucketed {
			g, ok := groups.find(qBuckets[i])
			if !ok {
				if cands != nil {
					cands[i].pos = -1
				}
				continue
			}
			lo, hi = g.lo, g.hi
		}
		var best, second, bi int
		if opt.CrossCheck {
			best, second, bi = scanCross(&q.Descriptors[i], p.desc[lo:hi], int32(i), tBestD[lo:hi], tBestQ[lo:hi])
		} else {
			best, second, bi = scan(&q.Descriptors[i], p.desc[lo:hi])
		}
		ok := best <= maxDist && (ratio < 0 || second > 256 || float64(best) < ratio*float64(second))
		if cands != nil {
			cands[i] = cand{-1, 0}
			if ok {
				cands[i] = cand{lo + int32(bi), uint16(best)}
			}
			continue
		}
		if ok {
			out = addPair(out, owner, int32(i), lo+int32(bi), uint16(best))
		}
	}
	if cands != nil {
		for i, c := range cands {
			if c.pos >= 0 && tBestQ[c.pos] == int32(i) {
				out = addPair(out, owner, int32(i), c.pos, c.dist)
			}
		}
	}
	return p.finish(out)
}

// finish drops pairs that lost their target descriptor to a better query
// and translates grouped positions back to target indices.
func (p *Prepared) finish(out []Pair) []Pair {
	n := 0
	for _, pr := range out {
		if pr.Q < 0 {
			continue
		}
		if p.index != nil {
			pr.T = p.index[pr.T]
		}
		out[n] = pr
		n++
	}
	return out[:n]
}

// addPair appends (qi, pos) unless target position pos already has a pair at
// least as good; a worse holder is marked dead (Q = -1).
func addPair(out []Pair, owner []int32, qi, pos int32, dist uint16) []Pair {
	if o := owner[pos]; o >= 0 {
		if out[o].Dist <= dist {
			return out
		}
		out[o].Q = -1
	}
	owner[pos] = int32(len(out))
	return append(out, Pair{Q: qi, T: pos, Dist: dist})
}

// scan returns the smallest and second smallest distance from a to td and
// the position of the smallest; distances are 257 when absent.
func scan(a *feature.Descriptor, td []feature.Descriptor) (best, second, bi int) {
	best, second = 257, 257
	a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
	for j := range td {
		d := &td[j]
		dist := bits.OnesCount64(a0^d[0]) + bits.OnesCount64(a1^d[1]) +
			bits.OnesCount64(a2^d[2]) + bits.OnesCount64(a3^d[3])
		if dist < second {
			if dist < best {
				second, best, bi = best, dist, j
			} else {
				second = dist
			}
		}
	}
	return best, second, bi
}

// scanCross is scan that also records, per target descriptor, the nearest
// query seen so far.
func scanCross(a *feature.Descriptor, td []feature.Descriptor, qi int32, tBestD []uint16, tBestQ []int32) (best, second, bi int) {
	best, second = 257, 257
	a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
	tBestD = tBestD[:len(td)]
	tBestQ = tBestQ[:len(td)]
	for j := range td {
		d := &td[j]
		dist := bits.OnesCount64(a0^d[0]) + bits.OnesCount64(a1^d[1]) +
			bits.OnesCount64(a2^d[2]) + bits.OnesCount64(a3^d[3])
		if uint16(dist) < tBestD[j] {
			tBestD[j] = uint16(dist)
			tBestQ[j] = qi
		}
		if dist < second {
			if dist < best {
				second, best, bi = best, dist, j
			} else {
				second = dist
			}
		}
	}
	return best, second, bi
}
