package index

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"unsafe"
)

// VoteIndex is an inverted file for recognising small objects among many
// targets. A bag-of-words score ranks a target by the words its image shares
// with the whole query, so a poster covering a tenth of the frame drowns in
// the background's words. VoteIndex instead counts, per target, query
// descriptors that plausibly match one of its descriptors:
//
//   - the pair shares a vocabulary word (the query side looks up several
//     words per descriptor, see Vocabulary.LookupMulti);
//   - the pair's 128-bit signatures (half of the descriptor) are within a
//     small Hamming distance, which rejects most pairs that merely share a
//     word (Hamming embedding, Jégou et al. 2008);
//   - the vote goes to a bin of (orientation change, scale change): the true
//     matches of one planar target agree on both, chance matches scatter
//     (weak geometric consistency).
//
// A target's score is its fullest bin. Postings are 24 bytes.
//
// It is safe for concurrent use: queries share a read lock; Add and Remove
// take the write lock for as long as it takes to append or mark.
type VoteIndex struct {
	pool sync.Pool // *voteScratch

	mu    sync.RWMutex
	lists [][]votePosting // by word
	gen   []uint8         // by doc: generation of the live document
	live  []bool          // by doc
	n     int             // live documents
	dead  int             // postings of removed documents still in lists
	total int
}

// Signature is the part of a descriptor a posting keeps for the Hamming
// check.
type Signature [2]uint64

type votePosting struct {
	sig Signature
	doc uint32
	geo uint8 // angle bin << 4 | octave
	gen uint8
}

// VoteFeature is one descriptor of an indexed document.
type VoteFeature struct {
	Word   uint32
	Sig    Signature
	Angle  uint8 // orientation bin, 0…AngleBins-1
	Octave uint8 // pyramid level, 0…15
}

// VoteQuery is one query descriptor: its candidate words and signature.
type VoteQuery struct {
	Words  []uint32
	Sig    Signature
	Angle  uint8
	Octave uint8
}

// Tunables of Query: lists longer than stopListFactor times the average
// (and than minStopList) are skipped.
const (
	stopListFactor = 10
	minStopList    = 1000
)

// AngleBins is the resolution of orientations in VoteFeature and VoteQuery.
const AngleBins = 16

// Vote histogram geometry: angle changes in AngleBins bins, octave changes
// (target level − query level, −15…15) in pairs of levels. Votes go to the
// nearest two bins of each, so a fullest bin sees agreeing pairs even when
// they straddle a bin border.
const (
	octaveBins = 17 // (Δ+16)/2
	binsPerDoc = AngleBins * octaveBins
)

// NewVoteIndex returns an empty index over a vocabulary of the given size.
func NewVoteIndex(words int) *VoteIndex {
	ix := &VoteIndex{lists: make([][]votePosting, words)}
	ix.pool.New = func() any { return new(voteScratch) }
	return ix
}

// Len returns the number of live documents.
func (ix *VoteIndex) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.n
}

// Add indexes the features of doc, replacing it if present.
func (ix *VoteIndex) Add(doc uint32, fs []VoteFeature) error {
	if doc > MaxDoc {
		return ErrWord
	}
	for _, f := range fs {
		if int(f.Word) >= len(ix.lists) {
			return ErrWord
		}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for int(doc) >= len(ix.live) {
		ix.live = append(ix.live, false)
		ix.gen = append(ix.gen, 0)
	}
	if ix.live[doc] {
		ix.removeLocked(doc)
	}
	g := ix.gen[doc]
	for _, f := range fs {
		ix.lists[f.Word] = append(ix.lists[f.Word], votePosting{
			sig: f.Sig, doc: doc, gen: g, geo: f.Angle%AngleBins<<4 | f.Octave&15,
		})
	}
	ix.live[doc] = true
	ix.n++
	ix.total += len(fs)
	return nil
}

// Remove drops doc; it reports whether it was indexed. Its postings stay in
// the lists, skipped by generation, until Compact.
func (ix *VoteIndex) Remove(doc uint32) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if int(doc) >= len(ix.live) || !ix.live[doc] {
		return false
	}
	ix.removeLocked(doc)
	return true
}

func (ix *VoteIndex) removeLocked(doc uint32) {
	ix.live[doc] = false
	ix.gen[doc]++
	ix.n--
	// Exact dead counts would need a per-doc posting count; an upper bound
	// from the average is enough to decide when to compact.
	if ix.n > 0 {
		ix.dead += ix.total / (ix.n + 1)
	}
	if ix.gen[doc] == 0 || ix.dead > ix.total/4 {
		// A wrapped generation could revive stale postings: sweep now.
		ix.compactLocked()
	}
}

// Compact removes the postings of removed documents.
func (ix *VoteIndex) Compact() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.compactLocked()
}

func (ix *VoteIndex) compactLocked() {
	total := 0
	for w, ps := range ix.lists {
		k := 0
		for _, p := range ps {
			if ix.live[p.doc] && ix.gen[p.doc] == p.gen {
				ps[k] = p
				k++
			}
		}
		clear(ps[k:])
		ix.lists[w] = ps[:k]
		total += k
	}
	ix.total, ix.dead = total, 0
}

// Bytes approximates the heap held by postings.
func (ix *VoteIndex) Bytes() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := int64(len(ix.lists)) * 24
	for _, ps := range ix.lists {
		b += int64(cap(ps)) * int64(unsafe.Sizeof(votePosting{}))
	}
	return b
}

type voteScratch struct {
	table   []voteSlot // open addressing, power of two
	touched []uint32   // slots in use
	best    []Candidate
	hits    []voteHit
	offs    []int32 // end of each query descriptor's hits
	counts  []int32
	seen    []seenStamp // by doc
	stamp   uint32
	docBest []float32 // by doc: fullest bin so far
	docs    []uint32  // docs with a non-zero docBest
}

type voteSlot struct {
	key   uint32 // doc*binsPerDoc + bin + 1; 0 = empty
	count float32
}

type voteHit struct {
	p    votePosting
	dist int
}

// seenStamp marks a document as hit by the current query descriptor (stamp)
// at position pos of the hits.
type seenStamp struct {
	stamp uint32
	pos   int32
}

// Query returns in out (reused) the at most n documents with the largest
// vote, best first, ignoring documents with fewer than minVotes. maxHam is
// the largest signature distance that votes.
func (ix *VoteIndex) Query(q []VoteQuery, maxHam, minVotes, n int, out []Candidate) []Candidate {
	out = out[:0]
	sc := ix.pool.Get().(*voteScratch)
	defer ix.pool.Put(sc)
	if len(sc.table) == 0 {
		sc.table = make([]voteSlot, 1<<18)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	checkGen := ix.dead > 0
	maxList := max(minStopList, stopListFactor*ix.total/max(1, len(ix.lists)))
	// First pass: the postings each query descriptor passes, one per
	// document (its nearest there): repetitive texture would otherwise
	// outvote the few distinctive matches of a small target. Words whose
	// lists are far longer than average say little and cost most; they are
	// skipped.
	sc.hits, sc.offs = sc.hits[:0], sc.offs[:0]
	if len(sc.seen) < len(ix.live) {
		sc.seen = make([]seenStamp, len(ix.live)+len(ix.live)/4)
	}
	for i := range q {
		qd := &q[i]
		sc.stamp++
		if sc.stamp == 0 {
			clear(sc.seen)
			sc.stamp = 1
		}
		for _, w := range qd.Words {
			if int(w) >= len(ix.lists) || len(ix.lists[w]) > maxList {
				continue
			}
			for _, p := range ix.lists[w] {
				d := bits.OnesCount64(p.sig[0]^qd.Sig[0]) + bits.OnesCount64(p.sig[1]^qd.Sig[1])
				if d > maxHam {
					continue
				}
				if checkGen && (!ix.live[p.doc] || ix.gen[p.doc] != p.gen) {
					continue
				}
				// One hit per document: keep the nearest posting.
				if st := &sc.seen[p.doc]; st.stamp == sc.stamp {
					if h := &sc.hits[st.pos]; d < h.dist {
						*h = voteHit{p, d}
					}
				} else {
					*st = seenStamp{sc.stamp, int32(len(sc.hits))}
					sc.hits = append(sc.hits, voteHit{p, d})
				}
			}
		}
		sc.offs = append(sc.offs, int32(len(sc.hits)))
	}
	// Second pass: vote. A descriptor that passes in many more documents
	// than the query's typical descriptor is generic (a plain corner, a
	// texture element): its votes weigh √(typical/n). Relative to the
	// query's own median, the weighting means the same at any database
	// size.
	sc.counts = sc.counts[:0]
	lo := int32(0)
	for _, hi := range sc.offs {
		if hi > lo {
			sc.counts = append(sc.counts, hi-lo)
		}
		lo = hi
	}
	typical := float64(1)
	if len(sc.counts) > 0 {
		slices.Sort(sc.counts)
		typical = float64(sc.counts[len(sc.counts)/2])
	}
	lo = 0
	for i, hi := range sc.offs {
		if n := float64(hi - lo); n > 0 {
			wt := float32(1)
			if n > typical {
				wt = float32(math.Sqrt(typical / n))
			}
			for _, h := range sc.hits[lo:hi] {
				sc.vote(h.p, &q[i], wt)
			}
		}
		lo = hi
	}
	// Fullest bin per document.
	if len(sc.docBest) < len(ix.live) {
		sc.docBest = make([]float32, len(ix.live)+len(ix.live)/4)
	}
	sc.docs = sc.docs[:0]
	for _, t := range sc.touched {
		slot := &sc.table[t]
		doc := (slot.key - 1) / binsPerDoc
		if sc.docBest[doc] == 0 {
			sc.docs = append(sc.docs, doc)
		}
		sc.docBest[doc] = max(sc.docBest[doc], slot.count)
		*slot = voteSlot{}
	}
	sc.touched = sc.touched[:0]
	for _, d := range sc.docs {
		if c := sc.docBest[d]; c >= float32(minVotes) {
			out = append(out, Candidate{Doc: d, Score: c})
		}
		sc.docBest[d] = 0
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return int(a.Doc) - int(b.Doc)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// vote adds one to the four bins around the pair's orientation and scale
// change.
func (sc *voteScratch) vote(p votePosting, q *VoteQuery, wt float32) {
	da := (int(p.geo>>4) - int(q.Angle) + 2*AngleBins) % AngleBins
	do := int(p.geo&15) - int(q.Octave) + 16 // 1…31
	a1 := (da + 1) % AngleBins
	o0 := do / 2
	o1 := min(o0+1, octaveBins-1)
	base := p.doc * binsPerDoc
	sc.add(base+uint32(da*octaveBins+o0), wt)
	sc.add(base+uint32(da*octaveBins+o1), wt)
	sc.add(base+uint32(a1*octaveBins+o0), wt)
	sc.add(base+uint32(a1*octaveBins+o1), wt)
}

func (sc *voteScratch) add(bin uint32, wt float32) {
	key := bin + 1
	if 2*len(sc.touched) >= len(sc.table) {
		sc.grow()
	}
	mask := uint32(len(sc.table) - 1)
	h := (key * 0x9e3779b1) & mask
	for {
		s := &sc.table[h]
		if s.key == key {
			s.count += wt
			return
		}
		if s.key == 0 {
			s.key, s.count = key, wt
			sc.touched = append(sc.touched, h)
			return
		}
		h = (h + 1) & mask
	}
}

func (sc *voteScratch) grow() {
	old := sc.table
	sc.table = make([]voteSlot, 2*len(old))
	mask := uint32(len(sc.table) - 1)
	sc.touched = sc.touched[:0]
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		h := (s.key * 0x9e3779b1) & mask
		for sc.table[h].key != 0 {
			h = (h + 1) & mask
		}
		sc.table[h] = s
		sc.touched = append(sc.touched, h)
	}
}
