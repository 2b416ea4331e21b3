package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// VoteIndex is an inverted file for recognising small objects among many
// targets. A bag-of-words score ranks a target by the words its image shares
// with the whole query, so a poster covering a tenth of the frame drowns in
// the background's words. VoteIndex instead counts, per target, query
// descriptors that plausibly match one of its descriptors:
//
//   - the pair shares a vocabulary word (the query side looks up several
//     words per descriptor, see Vocabulary.LookupMulti);
//   - the pair's signatures (the first 64 or 128 bits of the descriptor) are
//     within a small Hamming distance, which rejects most pairs that merely
//     share a word (Hamming embedding, Jégou et al. 2008);
//   - the vote goes to a bin of (orientation change, scale change): the true
//     matches of one planar target agree on both, chance matches scatter
//     (weak geometric consistency).
//
// A target's score is its fullest bin.
//
// Postings are packed for 100k+ documents: each word's list is one byte
// slice of records (document id as a varint gap from the previous record's,
// see appendDoc; one geometry byte, the signature in 8 or 16 bytes), about 10 or
// 18 bytes a posting instead of the 24 of a struct. Removal marks the
// document dead; its postings are skipped until Compact (or an automatic
// compaction once a quarter of the postings are dead) drops them, a few
// hundred lists at a time so that queries are never stopped for long. A
// document id must not be added again until it has been compacted away
// (Reusable); callers simply use fresh ids.
//
// It is safe for concurrent use: queries share a read lock; Add and Remove
// take the write lock for as long as it takes to append or mark.
type VoteIndex struct {
	pool     sync.Pool // *voteScratch
	sigWords int       // 1 or 2 uint64 of signature per posting

	mu    sync.RWMutex
	lists []voteList // by word
	state []docState // by doc
	side  []uint16   // by doc: the long side of the target in pixels, the unit of VoteFeature.Pos
	n     int        // live documents
	dirty int        // removed documents whose postings may remain
	dead  int        // estimated postings of removed documents
	total int        // postings, dead ones included
	comp  bool       // a compaction is running
}

type voteList struct {
	b    []byte
	last uint32 // document of the last record: the next delta's base
	n    int32  // records
}

type docState uint8

const (
	docFree  docState = iota // never used, or compacted away
	docLive                  // indexed
	docDirty                 // removed, postings may remain
)

// ErrDocInUse reports an Add of a document id that is indexed or whose
// removed postings have not been compacted yet.
var ErrDocInUse = errors.New("index: document id in use")

// Signature is the part of a descriptor a posting keeps for the Hamming
// check. With 64-bit signatures only the first word is used.
type Signature [2]uint64

// VoteFeature is one descriptor of an indexed document.
type VoteFeature struct {
	Word   uint32
	Sig    Signature
	Angle  uint8 // orientation bin, 0…AngleBins-1
	Octave uint8 // pyramid level, 0…15
	// Pos is the keypoint's offset from the target's centre in sixteenths
	// of the target's long side (Add's side), biased by 8 and clamped to
	// 0…15, x in the high nibble: see VotePos.
	Pos uint8
}

// VotePos packs a keypoint position (x, y) of a w×h target for
// VoteFeature.Pos.
func VotePos(x, y float32, w, h int) uint8 {
	side := float32(max(w, h, 1))
	q := func(v, mid float32) uint8 {
		c := int(math.Floor(float64((v-mid)/side*posCells))) + posCells/2
		return uint8(min(max(c, 0), posCells-1))
	}
	return q(x, float32(w)/2)<<4 | q(y, float32(h)/2)
}

// posCells is the resolution of VoteFeature.Pos across the long side.
const posCells = 16

// VoteQuery is one query descriptor: its candidate words and signature.
type VoteQuery struct {
	Words  []uint32
	Sig    Signature
	Angle  uint8
	Octave uint8
	// X, Y (pixels) and Theta (radians) are the keypoint's position and
	// orientation, for the translation check of VoteOptions.Rescore.
	X, Y, Theta float32
	// Weight scales the descriptor's votes; 0 means 1. The caller lowers
	// it for descriptors that repeat in the query (see engine.burst).
	Weight float32
}

// VoteOptions tunes Query.
type VoteOptions struct {
	MaxHamming int // largest signature distance that votes
	MinVotes   int // candidates need at least this vote
	N          int // candidates returned
	// StopFactor: lists longer than StopFactor times the average (and than
	// 1000 postings) are skipped: the commonest words say least and cost
	// most. 0 means 10.
	StopFactor int
	// Parallel is how many goroutines may scan the lists (0 or 1: the
	// calling one). Worth it for large indexes on an idle machine: the
	// scan is most of a query's time there.
	Parallel int
	// Rescore, when positive, adds a translation check: the votes of a
	// target's fullest bin must also agree on where they put the target's
	// centre in the query. Up to Rescore documents, in decreasing order of
	// their vote bound, are scored that way; the N best by that score are
	// returned. See translationScore.
	Rescore int
	// Cell is the translation bin's side as a fraction of the target's
	// side seen in the query (0 means DefaultCell).
	Cell float64
	// FrameArea is the query frame's area in pixels. When set, the
	// translation check discounts the votes chance alone would put in the
	// fullest cell (see translationScore).
	FrameArea float32
	// HammingSigma, when positive, weighs a vote by exp(−d²/σ²) for its
	// pair's signature distance d (Jégou et al. 2009): within the radius
	// MaxHamming, chance pairs crowd at its edge (random 64-bit
	// signatures are 5.5 times likelier at distance 10 than at 9) while
	// true pairs spread below it, so a near pair is better evidence than
	// a far one.
	HammingSigma float64
}

// chanceFactor scales the discount of chance votes in the translation
// check: the fullest of a document's cells holds more than the mean number
// of chance votes the discount starts from. At 2 (and equally at 4),
// extreme views gained 1.9 points with 206 targets and 1.0 with 10k, and
// one false hit fewer at 10k; at 6, hard views of targets that fill the
// frame (large cells) lost 1–1.5 points (docs/BENCHMARKS.md).
const chanceFactor = 2

const minStopList = 1000

// DefaultCell is VoteOptions.Cell's default: at 10k targets cells of 0.15
// to 0.25 of the target's side recall alike, 0.4 loses 3 points of hard
// views (docs/ARCHITECTURE.md).
const DefaultCell = 0.2

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

// MaxVoteDoc bounds document ids: the vote table keys a (document, bin)
// pair in 32 bits.
const MaxVoteDoc = (1<<32-2)/binsPerDoc - 1

// compactChunk is how many lists a compaction step rewrites under the lock.
const compactChunk = 512

// NewVoteIndex returns an empty index over a vocabulary of the given size
// keeping sigBits (64 or 128) of each descriptor.
func NewVoteIndex(words, sigBits int) *VoteIndex {
	sw := 2
	if sigBits <= 64 {
		sw = 1
	}
	ix := &VoteIndex{lists: make([]voteList, words), sigWords: sw}
	ix.pool.New = func() any { return new(voteScratch) }
	return ix
}

// SigBits returns the signature length in bits.
func (ix *VoteIndex) SigBits() int { return 64 * ix.sigWords }

// Len returns the number of live documents.
func (ix *VoteIndex) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.n
}

// Postings returns the number of postings held, dead ones included.
func (ix *VoteIndex) Postings() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.total
}

// Reusable reports whether doc may be added: it was never used, or it was
// removed and compacted away.
func (ix *VoteIndex) Reusable(doc uint32) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int(doc) >= len(ix.state) || ix.state[doc] == docFree
}

// Add indexes the features of doc, a target whose long side is side pixels
// (the unit of VoteFeature.Pos; 0 when unknown, which exempts the document
// from the translation check). The id must be unused (ErrDocInUse).
func (ix *VoteIndex) Add(doc uint32, side int, fs []VoteFeature) error {
	if doc > MaxVoteDoc {
		return fmt.Errorf("index: add doc %d: id above %d", doc, MaxVoteDoc)
	}
	for _, f := range fs {
		if int(f.Word) >= len(ix.lists) {
			return fmt.Errorf("index: add doc %d: %w: %d of %d", doc, ErrWord, f.Word, len(ix.lists))
		}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if int(doc) < len(ix.state) && ix.state[doc] != docFree {
		return fmt.Errorf("index: add doc %d: %w", doc, ErrDocInUse)
	}
	for int(doc) >= len(ix.state) {
		ix.state = append(ix.state, docFree)
		ix.side = append(ix.side, 0)
	}
	ix.side[doc] = uint16(min(max(side, 0), math.MaxUint16))
	for _, f := range fs {
		ix.lists[f.Word].append(doc, f.Angle%AngleBins<<4|f.Octave&15, f.Pos, f.Sig, ix.sigWords)
	}
	ix.state[doc] = docLive
	ix.n++
	ix.total += len(fs)
	return nil
}

// recordLen is the length of a posting after its document code: geometry
// byte, position byte, signature.
func recordLen(sigWords int) int { return 2 + 8*sigWords }

func (l *voteList) append(doc uint32, geo, pos uint8, sig Signature, sigWords int) {
	l.b = appendDoc(l.b, doc, l.last)
	l.b = append(l.b, geo, pos)
	l.b = binary.LittleEndian.AppendUint64(l.b, sig[0])
	if sigWords == 2 {
		l.b = binary.LittleEndian.AppendUint64(l.b, sig[1])
	}
	l.last = doc
	l.n++
}

// appendDoc encodes doc, the successor of last in a list: the gap plus one
// as a uvarint (one byte for gaps under 127, as the gaps of a list of
// documents added in id order mostly are), or, for a document below last
// (an id reused after compaction), a zero and the id itself.
func appendDoc(b []byte, doc, last uint32) []byte {
	if doc >= last {
		return binary.AppendUvarint(b, uint64(doc-last)+1)
	}
	return binary.AppendUvarint(append(b, 0), uint64(doc))
}

// readDoc decodes what appendDoc wrote at b[p:] after document doc; it
// returns the document and the position after it, or p < 0 if malformed.
func readDoc(b []byte, p int, doc uint32) (uint32, int) {
	v, k := binary.Uvarint(b[p:])
	if k <= 0 {
		return 0, -1
	}
	p += k
	if v != 0 {
		if v-1 > math.MaxUint32-uint64(doc) {
			return 0, -1
		}
		return doc + uint32(v-1), p
	}
	v, k = binary.Uvarint(b[p:])
	if k <= 0 || v > math.MaxUint32 {
		return 0, -1
	}
	return uint32(v), p + k
}

// Remove drops doc; it reports whether it was indexed. Its postings stay in
// the lists, skipped, until compacted.
func (ix *VoteIndex) Remove(doc uint32) bool {
	ix.mu.Lock()
	if int(doc) >= len(ix.state) || ix.state[doc] != docLive {
		ix.mu.Unlock()
		return false
	}
	ix.state[doc] = docDirty
	ix.n--
	ix.dirty++
	// Exact dead counts would need a per-doc posting count; an estimate
	// from the average is enough to decide when to compact.
	ix.dead += ix.total / (ix.n + ix.dirty)
	start := ix.dead > ix.total/4 && !ix.comp
	if start {
		ix.comp = true
	}
	ix.mu.Unlock()
	if start {
		// In the background: the caller (the engine) may hold its own
		// lock, and searches must not wait for a rewrite of every list.
		go ix.compact()
	}
	return true
}

// Compact drops the postings of removed documents, which become reusable.
func (ix *VoteIndex) Compact() {
	ix.mu.Lock()
	if ix.comp || ix.dirty == 0 {
		ix.mu.Unlock()
		return
	}
	ix.comp = true
	ix.mu.Unlock()
	ix.compact()
}

// compact rewrites the lists a chunk at a time. Documents removed while it
// runs may keep postings in lists it has passed; they stay dirty.
func (ix *VoteIndex) compact() {
	ix.mu.Lock()
	var gone []uint32
	for d, s := range ix.state {
		if s == docDirty {
			gone = append(gone, uint32(d))
		}
	}
	ix.mu.Unlock()
	isGone := func(d uint32) bool { _, ok := slices.BinarySearch(gone, d); return ok }
	removed := 0
	for w0 := 0; w0 < len(ix.lists); w0 += compactChunk {
		ix.mu.Lock()
		for w := w0; w < min(w0+compactChunk, len(ix.lists)); w++ {
			removed += ix.lists[w].filter(isGone, ix.sigWords)
		}
		ix.mu.Unlock()
	}
	ix.mu.Lock()
	for _, d := range gone {
		ix.state[d] = docFree
	}
	ix.dirty -= len(gone)
	ix.total -= removed
	ix.dead = max(0, ix.dead-removed)
	if ix.dirty == 0 {
		ix.dead = 0
	}
	ix.comp = false
	ix.mu.Unlock()
}

// filter drops the records of documents gone reports; it returns how many.
func (l *voteList) filter(gone func(uint32) bool, sigWords int) int {
	if l.n == 0 {
		return 0
	}
	rec := recordLen(sigWords)
	var out voteList
	keep := false
	for p, doc := 0, uint32(0); p < len(l.b); {
		doc, p = readDoc(l.b, p, doc)
		if gone(doc) {
			keep = true
		} else {
			out.b = appendDoc(out.b, doc, out.last)
			out.b = append(out.b, l.b[p:p+rec]...)
			out.last = doc
			out.n++
		}
		p += rec
	}
	if !keep {
		return 0
	}
	removed := int(l.n - out.n)
	out.b = slices.Clone(out.b)
	*l = out
	return removed
}

// Bytes returns the heap held by postings.
func (ix *VoteIndex) Bytes() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := int64(len(ix.lists))*40 + 3*int64(len(ix.state))
	for i := range ix.lists {
		b += int64(cap(ix.lists[i].b))
	}
	return b
}

// Trim gives back the spare capacity that appends leave in the lists (up
// to a quarter of them), copying each list whose slack exceeds an eighth
// into an exact-size one. Call it after a bulk load.
func (ix *VoteIndex) Trim() {
	for w0 := 0; w0 < len(ix.lists); w0 += compactChunk {
		ix.mu.Lock()
		for w := w0; w < min(w0+compactChunk, len(ix.lists)); w++ {
			if l := &ix.lists[w]; cap(l.b)-len(l.b) > len(l.b)/8 {
				l.b = slices.Clone(l.b)
			}
		}
		ix.mu.Unlock()
	}
}

type voteScratch struct {
	parts   []*scanPart
	hits    []voteHit
	offs    []int32 // end of each query descriptor's hits
	counts  []int32
	docBest []float32 // by doc: weighted hits
	slot    []int32   // by doc: 1 + rank in ranked, 0 when not ranked
	docs    []uint32  // docs with a non-zero docBest
	ranked  []Candidate
	start   []int32 // ranked document r's hits are grouped[start[r]:start[r+1]]
	fill    []int32
	grouped []binHit
	cells   cellTable
	qtrig   [][2]float32
	top     []binned
	distWt  []float32 // by signature distance: VoteOptions.HammingSigma's weight
}

type voteHit struct {
	doc  uint32
	geo  uint8
	pos  uint8
	dist uint8
	wt   float32
}

// binHit is a hit's change of orientation and octave (+16), weight, query
// descriptor and target position.
type binHit struct {
	da, do uint8
	pos    uint8
	wt     float32
	qi     int32
}

// A scanPart's seen entry marks a document as hit by the current query
// descriptor: the descriptor's 8-bit stamp above the hit's position among
// that descriptor's hits. Four bytes a document rather than eight keep the
// table of a 100k-target database in a core's L2 cache, where the scan
// looks it up once per passing posting; the price is clearing it every 255
// descriptors. A descriptor's hits are at most its words × the longest
// list scanned, far below 2²⁴ at any size the document ids allow with the
// default stop factor; past that its further hits are kept without
// deduplication rather than misfiled.
const (
	seenPosBits = 24
	seenPosMask = 1<<seenPosBits - 1
)

// scanPart is the scratch of one goroutine's share of a query's scan.
type scanPart struct {
	hits  []voteHit
	offs  []int32  // end of each query descriptor's hits
	seen  []uint32 // by doc: stamp<<seenPosBits | position
	stamp uint32   // 1…255
}

// scan collects, for each query descriptor of q, the documents it passes
// in (its nearest posting there). The caller holds ix.mu for reading.
func (pt *scanPart) scan(ix *VoteIndex, q []VoteQuery, maxHam int, maxList int32) {
	checkLive := ix.dirty > 0
	rec := recordLen(ix.sigWords)
	two := ix.sigWords == 2
	pt.hits, pt.offs = pt.hits[:0], pt.offs[:0]
	if len(pt.seen) < len(ix.state) {
		pt.seen = make([]uint32, len(ix.state)+len(ix.state)/4)
		pt.stamp = 0
	}
	for i := range q {
		qd := &q[i]
		pt.stamp++
		if pt.stamp > 255 {
			clear(pt.seen)
			pt.stamp = 1
		}
		base := len(pt.hits)
		for _, w := range qd.Words {
			if int(w) >= len(ix.lists) {
				continue
			}
			l := &ix.lists[w]
			if l.n > maxList {
				continue
			}
			b := l.b
			doc := int64(0)
			for p := 0; p < len(b); p += rec {
				// readDoc inlined by hand: deltas are almost always
				// one byte.
				v := uint64(b[p])
				p++
				if v >= 0x80 {
					x, k := binary.Uvarint(b[p-1:])
					v = x
					p += k - 1
				}
				if v != 0 {
					doc += int64(v - 1)
				} else {
					x, k := binary.Uvarint(b[p:])
					doc = int64(x)
					p += k
				}
				d := bits.OnesCount64(binary.LittleEndian.Uint64(b[p+2:]) ^ qd.Sig[0])
				if two {
					d += bits.OnesCount64(binary.LittleEndian.Uint64(b[p+10:]) ^ qd.Sig[1])
				}
				if d > maxHam {
					continue
				}
				if checkLive && ix.state[doc] != docLive {
					continue
				}
				// One hit per document: keep the nearest posting.
				if st := &pt.seen[doc]; *st>>seenPosBits == pt.stamp {
					if h := &pt.hits[base+int(*st&seenPosMask)]; d < int(h.dist) {
						h.geo, h.pos, h.dist = b[p], b[p+1], uint8(d)
					}
				} else {
					if rel := len(pt.hits) - base; rel <= seenPosMask {
						*st = pt.stamp<<seenPosBits | uint32(rel)
					}
					pt.hits = append(pt.hits, voteHit{doc: uint32(doc), geo: b[p], pos: b[p+1], dist: uint8(d)})
				}
			}
		}
		pt.offs = append(pt.offs, int32(len(pt.hits)))
	}
}

// Query returns in out (reused) the at most opt.N documents with the
// largest vote, best first, ignoring documents with fewer than
// opt.MinVotes.
func (ix *VoteIndex) Query(q []VoteQuery, opt VoteOptions, out []Candidate) []Candidate {
	out = out[:0]
	maxHam, minVotes, n := opt.MaxHamming, opt.MinVotes, opt.N
	stop := opt.StopFactor
	if stop <= 0 {
		stop = 10
	}
	sc := ix.pool.Get().(*voteScratch)
	defer ix.pool.Put(sc)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	maxList := int32(max(minStopList, stop*ix.total/max(1, len(ix.lists))))
	// First pass: the postings each query descriptor passes, one per
	// document (its nearest there): repetitive texture would otherwise
	// outvote the few distinctive matches of a small target. Words whose
	// lists are far longer than average say little and cost most; they are
	// skipped. With opt.Parallel, contiguous runs of query descriptors are
	// scanned by separate goroutines (the read lock covers them all), and
	// their hits concatenated in order.
	parts := min(max(1, opt.Parallel), max(1, len(q)/64))
	for len(sc.parts) < parts {
		sc.parts = append(sc.parts, new(scanPart))
	}
	if parts == 1 {
		sc.parts[0].scan(ix, q, maxHam, maxList)
	} else {
		var wg sync.WaitGroup
		for k := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc.parts[k].scan(ix, q[k*len(q)/parts:(k+1)*len(q)/parts], maxHam, maxList)
			}()
		}
		wg.Wait()
	}
	sc.hits, sc.offs = sc.hits[:0], sc.offs[:0]
	for _, pt := range sc.parts[:parts] {
		base := int32(len(sc.hits))
		sc.hits = append(sc.hits, pt.hits...)
		for _, o := range pt.offs {
			sc.offs = append(sc.offs, base+o)
		}
	}
	// Second pass: vote. A descriptor that passes in many more documents
	// than the query's typical descriptor is generic (a plain corner, a
	// texture element): its votes weigh (typical/n)^¼. Relative to the
	// query's own median, the weighting means the same at any database
	// size. The fourth root rather than the square root: a true pair's
	// descriptor also passes in more documents as the database grows, and
	// at 10k–100k targets the gentler weight kept 1–2 points more of hard
	// views (docs/BENCHMARKS.md).
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
	weight := func(n int32) float32 {
		if float64(n) > typical {
			return float32(math.Sqrt(math.Sqrt(typical / float64(n))))
		}
		return 1
	}
	if len(sc.docBest) < len(ix.state) {
		sc.docBest = make([]float32, len(ix.state)+len(ix.state)/4)
		sc.slot = make([]int32, len(sc.docBest))
	}
	var distWt []float32
	if sg := opt.HammingSigma; sg > 0 {
		sc.distWt = sc.distWt[:0]
		for d := range maxHam + 1 {
			sc.distWt = append(sc.distWt, float32(math.Exp(-float64(d*d)/(sg*sg))))
		}
		distWt = sc.distWt
	}
	// Weighted hits per document: an upper bound of its fullest bin, since
	// a hit adds its weight to four bins, at most once to each.
	sc.docs = sc.docs[:0]
	lo = 0
	for qi, hi := range sc.offs {
		if hi > lo {
			wt := weight(hi - lo)
			if w := q[qi].Weight; w > 0 {
				wt *= w
			}
			for k := range sc.hits[lo:hi] {
				h := &sc.hits[lo+int32(k)]
				h.wt = wt
				if distWt != nil {
					h.wt *= distWt[h.dist]
				}
				if sc.docBest[h.doc] == 0 {
					sc.docs = append(sc.docs, h.doc)
				}
				sc.docBest[h.doc] += wt
			}
		}
		lo = hi
	}
	sc.ranked = sc.ranked[:0]
	for _, d := range sc.docs {
		if c := sc.docBest[d]; c >= float32(minVotes) {
			sc.ranked = append(sc.ranked, Candidate{Doc: d, Score: c})
		}
	}
	// Group the hits of those documents (counting sort by rank position).
	slices.SortFunc(sc.ranked, byScore)
	sc.start = append(sc.start[:0], make([]int32, len(sc.ranked)+1)...)
	for r, c := range sc.ranked {
		sc.slot[c.Doc] = int32(r) + 1
	}
	for _, d := range sc.docs {
		if sc.docBest[d] < float32(minVotes) {
			sc.slot[d] = 0
		}
		sc.docBest[d] = 0
	}
	for _, h := range sc.hits {
		if r := sc.slot[h.doc]; r > 0 {
			sc.start[r]++
		}
	}
	for r := 1; r < len(sc.start); r++ {
		sc.start[r] += sc.start[r-1]
	}
	sc.grouped = slices.Grow(sc.grouped[:0], int(sc.start[len(sc.start)-1]))[:sc.start[len(sc.start)-1]]
	fill := append(sc.fill[:0], sc.start[:len(sc.start)-1]...)
	lo = 0
	for qi, hi := range sc.offs {
		for _, h := range sc.hits[lo:hi] {
			if r := sc.slot[h.doc]; r > 0 {
				qd := &q[qi]
				sc.grouped[fill[r-1]] = binHit{
					da:  uint8((int(h.geo>>4) - int(qd.Angle) + 2*AngleBins) % AngleBins),
					do:  uint8(int(h.geo&15) - int(qd.Octave) + 16),
					pos: h.pos,
					wt:  h.wt,
					qi:  int32(qi),
				}
				fill[r-1]++
			}
		}
		lo = hi
	}
	sc.fill = fill
	// Bin documents in decreasing order of their bound; once the bound
	// falls below the keep-th fullest bin found, no later document can
	// enter. With a translation check, the keep best by bin are its input.
	var bins [binsPerDoc]float32
	keep := n
	if opt.Rescore > 0 {
		keep = max(n, opt.Rescore)
	}
	top := sc.top[:0]
	for r, c := range sc.ranked {
		sc.slot[c.Doc] = 0
		if len(top) >= keep && c.Score <= top[len(top)-1].Score {
			continue // keep clearing slots
		}
		best, bestBin := float32(0), 0
		for _, g := range sc.grouped[sc.start[r]:sc.start[r+1]] {
			for _, b := range hitBins(g) {
				bins[b] += g.wt
				if bins[b] > best {
					best, bestBin = bins[b], b
				}
			}
		}
		clear(bins[:])
		if best < float32(minVotes) {
			continue
		}
		top = insertTop(top, binned{Candidate: Candidate{Doc: c.Doc, Score: best}, rank: int32(r), bin: int32(bestBin)}, keep)
	}
	sc.top = top
	if opt.Rescore > 0 && len(top) > 0 {
		sc.qtrig = slices.Grow(sc.qtrig[:0], len(q))[:len(q)]
		for i := range q {
			sin, cos := math.Sincos(float64(q[i].Theta))
			sc.qtrig[i] = [2]float32{float32(cos), float32(sin)}
		}
	}
	cell := opt.Cell
	if cell <= 0 {
		cell = DefaultCell
	}
	for _, t := range top {
		if side := ix.side[t.Doc]; opt.Rescore > 0 && side > 0 {
			hits := sc.grouped[sc.start[t.rank]:sc.start[t.rank+1]]
			t.Score = translationScore(hits, int(t.bin), q, sc.qtrig, float32(side), cell, &sc.cells, opt.FrameArea)
			if t.Score < float32(minVotes) {
				continue
			}
		}
		out = insertTop(out, t.Candidate, n)
	}
	return out
}

// binned is a candidate scored by its fullest bin: where its hits are in
// the grouped hits, and which bin.
type binned struct {
	Candidate
	rank, bin int32
}

// hitBins returns the four (orientation, octave) bins a hit votes in.
func hitBins(g binHit) [4]int {
	a1 := (int(g.da) + 1) % AngleBins
	o0 := int(g.do) / 2
	o1 := min(o0+1, octaveBins-1)
	return [4]int{int(g.da)*octaveBins + o0, int(g.da)*octaveBins + o1, a1*octaveBins + o0, a1*octaveBins + o1}
}

// translationScore is the weight of the hits of one document's fullest
// (orientation, octave) bin that agree on where the target's centre lies in
// the query. Each hit, with the rotation its orientations imply and the
// scale its pyramid levels imply, carries its target keypoint's offset
// from the centre into the query; true matches of a planar target put the
// centre in one place, up to the quantisation of angle, level and position
// and the perspective a similarity ignores, while chance matches on clutter
// scatter it over the frame. Centres are binned on a grid whose cell is a
// fraction cell of the target's side as the bin's scale shows it, each vote
// shared by the 2×2 cells nearest it; the fullest cell, less the votes
// chance would put in a cell of its size in a frame of area pixels (0: no
// discount), is the score. qtrig holds the cosine and sine of each query
// descriptor's orientation.
func translationScore(hits []binHit, bin int, q []VoteQuery, qtrig [][2]float32, side float32, cell float64, tab *cellTable, area float32) float32 {
	// The bin's octave pair gives the scale the grid is sized by: query
	// pixels per target pixel, 1.2 per pyramid level.
	o := bin%octaveBins*2 - 16 // target level − query level, lower of the pair
	inv := 1 / (float32(cell) * side * levelPow[16-o] / levelRoot)
	unit := side / posCells
	tab.reset(4 * len(hits))
	best := float32(0)
	total := float32(0)
	for _, g := range hits {
		hb := hitBins(g)
		if hb[0] != bin && hb[1] != bin && hb[2] != bin && hb[3] != bin {
			continue
		}
		total += g.wt
		qd := &q[g.qi]
		// The rotation is the query's orientation less the centre of the
		// target's orientation bin (recovered from g.da and the query's
		// bin): cos and sin of a difference, from the two angles' own.
		tb := (int(g.da) + int(qd.Angle)) % AngleBins
		qc, qs := qtrig[g.qi][0], qtrig[g.qi][1]
		tc, ts := binTrig[tb][0], binTrig[tb][1]
		cos, sin := qc*tc+qs*ts, qs*tc-qc*ts
		s := levelPow[32-int(g.do)] // query pixels per target pixel
		dx := (float32(g.pos>>4) - posCells/2 + 0.5) * unit
		dy := (float32(g.pos&15) - posCells/2 + 0.5) * unit
		cx := qd.X - s*(cos*dx-sin*dy)
		cy := qd.Y - s*(sin*dx+cos*dy)
		// Votes go to the 2x2 cells around the centre: cell (i, j)
		// covers [i, i+1) × [j, j+1) in units of the cell, offset by half
		// a cell, so a centre votes where it is nearest.
		fx, fy := cx*inv-0.5, cy*inv-0.5
		if !(fx > -1<<14 && fx < 1<<14 && fy > -1<<14 && fy < 1<<14) {
			continue // also NaN
		}
		ix, iy := int32(math.Floor(float64(fx))), int32(math.Floor(float64(fy)))
		for _, d := range [4][2]int32{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
			best = max(best, tab.add((ix+d[0])<<16^(iy+d[1])&0xffff, g.wt))
		}
	}
	if area > 0 {
		// Votes of chance matches scatter their centres over the frame,
		// and each lands in 2×2 cells: a cell holds on average the share
		// 4·cell²/area of them. Cells sized for a target seen large
		// collect many, so without this a distractor voted for at a large
		// apparent scale scored on chance alone.
		c := 1 / inv
		best -= chanceFactor * total * min(1, 4*c*c/area)
	}
	return best
}

// LevelScale is the pyramid scale step the translation check assumes (the
// extractor's default): a caller whose pyramids use another step must not
// ask for VoteOptions.Rescore. levelPow[16+k] is LevelScale^k for k in
// −16…16, and levelRoot its square root, the middle of a bin's pair of
// levels.
const LevelScale = 1.2

var (
	levelPow = func() (t [33]float32) {
		for k := range t {
			t[k] = float32(math.Pow(LevelScale, float64(k-16)))
		}
		return t
	}()
	levelRoot = float32(math.Sqrt(LevelScale))
	// binTrig is the cosine and sine of each orientation bin's centre.
	binTrig = func() (t [AngleBins][2]float32) {
		for b := range t {
			sin, cos := math.Sincos((float64(b) + 0.5) * 2 * math.Pi / AngleBins)
			t[b] = [2]float32{float32(cos), float32(sin)}
		}
		return t
	}()
)

// cellTable sums votes per translation cell: open addressing over a power
// of two slots, cleared by a generation stamp rather than by writing.
type cellTable struct {
	slots []cellSlot
	stamp uint32
	mask  int
}

type cellSlot struct {
	key   int32
	stamp uint32
	wt    float32
}

// reset readies the table for up to n keys.
func (t *cellTable) reset(n int) {
	size := 64
	for size < 2*n {
		size *= 2
	}
	t.stamp++
	if len(t.slots) < size || t.stamp == 0 {
		t.slots = make([]cellSlot, max(size, len(t.slots)))
		t.stamp = 1
	}
	t.mask = size - 1
}

// add adds wt to key's cell and returns the cell's sum.
func (t *cellTable) add(key int32, wt float32) float32 {
	i := int(uint32(key)*0x9e3779b1>>7) & t.mask
	for {
		sl := &t.slots[i]
		if sl.stamp != t.stamp {
			*sl = cellSlot{key: key, stamp: t.stamp, wt: wt}
			return wt
		}
		if sl.key == key {
			sl.wt += wt
			return sl.wt
		}
		i = (i + 1) & t.mask
	}
}

// insertTop inserts c into out, kept sorted best first (byScore) and at
// most n long.
func insertTop[T interface{ candidate() Candidate }](out []T, c T, n int) []T {
	i := len(out)
	for i > 0 && byScore(c.candidate(), out[i-1].candidate()) < 0 {
		i--
	}
	if i >= n {
		return out
	}
	if len(out) < n {
		var zero T
		out = append(out, zero)
	}
	copy(out[i+1:], out[i:len(out)-1])
	out[i] = c
	return out
}

// candidate lets insertTop rank Candidates and what embeds one.
func (c Candidate) candidate() Candidate { return c }

func byScore(a, b Candidate) int {
	switch {
	case a.Score > b.Score:
		return -1
	case a.Score < b.Score:
		return 1
	}
	return int(a.Doc) - int(b.Doc)
}
