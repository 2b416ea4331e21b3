package verify

import (
	"fmt"
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
	count := make(map[uint32]int32)
	for _, b := range buckets {
		count[b]++
	}
	// Sorted bucket order keeps the layout, and so tie-breaking between
	// equally distant descriptors, independent of map iteration order.
	keys := make([]uint32, 0, len(count))
	for b := range count {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	g := &groups{keys: keys, spans: make([]span, len(keys))}
	var off int32
	for i, b := range keys {
		g.spans[i] = span{off, off}
		off += count[b]
	}
	p := &Prepared{
		desc:   make([]feature.Descriptor, len(buckets)),
		index:  make([]int32, len(buckets)),
		groups: g,
	}
	for i, b := range buckets {
		k, _ := slices.BinarySearch(keys, b)
		sp := &g.spans[k]
		p.desc[sp.hi] = t.Descriptors[i]
		p.index[sp.hi] = int32(i)
		sp.hi++
	}
	return p
}

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
	coarse := make(map[uint32]span)
	for i, b := range buckets {
		g, _ := p.groups.find(b)
		c, ok := coarse[parents[i]]
		if !ok {
			coarse[parents[i]] = g
			continue
		}
		c.lo, c.hi = min(c.lo, g.lo), max(c.hi, g.hi)
		coarse[parents[i]] = c
	}
	n := int32(0)
	cg := &groups{keys: make([]uint32, 0, len(coarse))}
	for k, c := range coarse {
		n += c.hi - c.lo
		cg.keys = append(cg.keys, k)
	}
	if int(n) != len(p.desc) {
		panic("verify: parent buckets are not contiguous")
	}
	slices.Sort(cg.keys)
	for _, k := range cg.keys {
		cg.spans = append(cg.spans, coarse[k])
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
