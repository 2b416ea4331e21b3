package index

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Scoring selects how an Index compares bag-of-words vectors. Both weight a
// word by tf·idf with idf = log((N+1)/df) over the indexed documents.
type Scoring uint8

const (
	// L1 scores by histogram intersection of L1-normalised vectors,
	// Σ min(q_w, d_w) ∈ [0, 1], which equals 1 - ½‖q-d‖₁ (the DBoW2 score).
	// It is the default: with vocabulary trees it retrieves better than L2.
	L1 Scoring = iota
	// L2 scores by cosine similarity of the vectors.
	L2
)

// Options configures an Index. The zero value gives the defaults.
type Options struct {
	Scoring Scoring

	// StopFraction skips query words that occur in more than this fraction
	// of the documents (and in more than StopMinDF of them): such words say
	// little and their long posting lists dominate query time. 0 means 0.1;
	// 1 or more disables the cutoff.
	StopFraction float64
	// StopMinDF keeps the cutoff off while document frequencies are too small
	// to mean anything. 0 means 64.
	StopMinDF int
}

func (o Options) withDefaults() Options {
	if o.StopFraction == 0 {
		o.StopFraction = 0.1
	}
	if o.StopMinDF == 0 {
		o.StopMinDF = 64
	}
	return o
}

// Candidate is a document and its similarity to a query; larger is better.
type Candidate struct {
	Doc   uint32
	Score float32
}

// MaxDoc bounds document ids: per-document state is held in dense slices
// indexed by id, so ids should be small and dense (allocated by the caller).
const MaxDoc = 1<<30 - 1

// Tunables of the lazy maintenance; see maintain.
const (
	sweepBudget      = 1 << 16 // postings inspected per write while sweeping
	autoReweightDocs = 1 << 14 // norms are recomputed as the index doubles, up to this size
)

// ErrWord reports a word id outside the index's vocabulary.
var ErrWord = errors.New("index: word out of range")

// Index is an inverted file from words to documents. It is safe for
// concurrent use; queries run in parallel with each other and are serialised
// with Add and Remove, which hold the lock for microseconds.
//
// Removal design: Remove only marks the document dead and bumps its
// generation; its postings stay in the lists and queries skip them by
// comparing the generation stored in each posting with the document's. Once
// dead postings exceed an eighth of all postings, every write also sweeps a
// bounded run of posting lists (sweepBudget postings) until a full pass is
// done, so memory is reclaimed without a stop-the-world compaction. When no
// dead postings exist queries take a loop without the generation check.
//
// Weights: a document's norm depends on the idf of its words at the time it
// is added. idf moves little once the collection is large, so norms are
// recomputed only as the index doubles while small (up to autoReweightDocs
// documents), on load, and when the caller asks (Reweight).
type Index struct {
	opts Options
	pool sync.Pool // *scratch

	mu         sync.RWMutex
	postings   [][]posting // by word
	docs       []docMeta   // by doc id
	invNorm    []float32   // by doc id; 1/norm of a live doc, else 0
	live       int         // live documents
	total      int         // postings in the lists, dead ones included
	dead       int         // dead postings still in the lists
	sweeping   bool
	sweepNext  int // next word to sweep
	reweightAt int // live documents at the last full reweight
}

// posting is one (document, word) pair: 8 bytes.
type posting struct {
	doc uint32
	tf  uint16 // occurrences of the word in the document, saturating
	gen uint16 // the document's generation when added
}

type docMeta struct {
	n    uint32 // distinct words (postings) of the live document
	gen  uint16
	live bool
}

// New returns an empty index over a vocabulary of the given number of words.
func New(words int, opts Options) *Index {
	ix := &Index{opts: opts.withDefaults(), postings: make([][]posting, words)}
	ix.pool.New = func() any { return new(scratch) }
	return ix
}

// Words returns the vocabulary size the index was created with.
func (ix *Index) Words() int { return len(ix.postings) }

// Len returns the number of live documents.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live
}

// Contains reports whether doc is indexed.
func (ix *Index) Contains(doc uint32) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return int(doc) < len(ix.docs) && ix.docs[doc].live
}

type wordTF struct {
	word uint32
	tf   uint16
}

// Add indexes doc with the words of its descriptors; repeated words count as
// term frequency. A document already present is replaced.
func (ix *Index) Add(doc uint32, words []uint32) error {
	if doc > MaxDoc {
		return fmt.Errorf("index: add doc %d: id above %d", doc, MaxDoc)
	}
	// Everything that does not touch shared state happens before locking.
	sorted := slices.Clone(words)
	slices.Sort(sorted)
	terms := make([]wordTF, 0, len(sorted))
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		if int(sorted[i]) >= len(ix.postings) {
			return fmt.Errorf("index: add doc %d: %w: %d of %d", doc, ErrWord, sorted[i], len(ix.postings))
		}
		terms = append(terms, wordTF{sorted[i], uint16(min(j-i, math.MaxUint16))})
		i = j
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()
	if int(doc) >= len(ix.docs) {
		n := max(int(doc)+1, 2*len(ix.docs))
		ix.docs = append(ix.docs, make([]docMeta, n-len(ix.docs))...)
		ix.invNorm = append(ix.invNorm, make([]float32, n-len(ix.invNorm))...)
	}
	if ix.docs[doc].live {
		ix.removeLocked(doc)
	}
	m := &ix.docs[doc]
	m.live, m.n = true, uint32(len(terms))
	for _, t := range terms {
		ix.postings[t.word] = append(ix.postings[t.word], posting{doc: doc, tf: t.tf, gen: m.gen})
	}
	ix.live++
	ix.total += len(terms)
	var norm float64
	for _, t := range terms {
		x := float64(t.tf) * ix.idf(len(ix.postings[t.word]))
		if ix.opts.Scoring == L2 {
			x *= x
		}
		norm += x
	}
	ix.invNorm[doc] = ix.inverse(norm)
	ix.maintain()
	return nil
}

// Remove drops doc from the index and reports whether it was there.
func (ix *Index) Remove(doc uint32) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if int(doc) >= len(ix.docs) || !ix.docs[doc].live {
		return false
	}
	ix.removeLocked(doc)
	ix.maintain()
	return true
}

func (ix *Index) removeLocked(doc uint32) {
	m := &ix.docs[doc]
	m.live = false
	m.gen++
	ix.dead += int(m.n)
	ix.live--
	m.n = 0
	ix.invNorm[doc] = 0
	if m.gen == 0 && ix.dead > 0 {
		// The generation wrapped: postings from 65536 lives ago could
		// match again, so clear every dead posting now. Rare by design.
		ix.sweep(0, math.MaxInt)
		ix.sweeping, ix.sweepNext = false, 0
	}
}

// maintain does the bounded lazy work after a write: one sweep step and, while
// the index is small, a reweight each time it doubles.
func (ix *Index) maintain() {
	if !ix.sweeping && ix.dead > 0 && ix.dead*8 > ix.total {
		ix.sweeping, ix.sweepNext = true, 0
	}
	if ix.sweeping {
		ix.sweepNext = ix.sweep(ix.sweepNext, sweepBudget)
		if ix.sweepNext >= len(ix.postings) {
			ix.sweeping, ix.sweepNext = false, 0
		}
	}
	if ix.live <= autoReweightDocs && ix.live >= 2*ix.reweightAt {
		ix.reweightLocked()
	}
}

// sweep drops dead postings from word lists starting at from until budget
// postings were inspected, and returns the next word to sweep.
func (ix *Index) sweep(from, budget int) int {
	w := from
	for ; w < len(ix.postings) && budget > 0; w++ {
		ps := ix.postings[w]
		budget -= len(ps) + 1
		kept := ps[:0]
		for _, p := range ps {
			if m := &ix.docs[p.doc]; m.live && m.gen == p.gen {
				kept = append(kept, p)
			}
		}
		if removed := len(ps) - len(kept); removed > 0 {
			ix.dead -= removed
			ix.total -= removed
			clear(ps[len(kept):])
			if cap(kept) > 16 && len(kept) < cap(kept)/4 {
				kept = slices.Clip(slices.Clone(kept))
			}
			ix.postings[w] = kept
		}
	}
	return w
}

// Reweight drops all dead postings and recomputes every document's norm with
// the current idf. It holds the write lock for a pass over all postings, so
// call it after bulk changes, not routinely.
func (ix *Index) Reweight() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.reweightLocked()
}

func (ix *Index) reweightLocked() {
	// Sweeping first makes df exact; the pass over all postings is being
	// paid for anyway.
	if ix.dead > 0 {
		ix.sweep(0, math.MaxInt)
	}
	ix.sweeping, ix.sweepNext = false, 0
	ix.reweightAt = ix.live
	norms := make([]float64, len(ix.docs))
	for _, ps := range ix.postings {
		idf := ix.idf(len(ps))
		for _, p := range ps {
			if m := &ix.docs[p.doc]; m.live && m.gen == p.gen {
				x := float64(p.tf) * idf
				if ix.opts.Scoring == L2 {
					x *= x
				}
				norms[p.doc] += x
			}
		}
	}
	for d, n := range norms {
		ix.invNorm[d] = 0
		if ix.docs[d].live {
			ix.invNorm[d] = ix.inverse(n)
		}
	}
}

// inverse turns an accumulated norm (a sum, or a sum of squares for L2)
// into the factor documents are scaled by.
func (ix *Index) inverse(norm float64) float32 {
	if norm <= 0 {
		return 0
	}
	if ix.opts.Scoring == L2 {
		norm = math.Sqrt(norm)
	}
	return float32(1 / norm)
}

// idf is log((N+1)/df); the +1 keeps a one-document index usable. Dead
// postings not yet swept inflate df slightly, hence the clamp.
func (ix *Index) idf(df int) float64 {
	if df == 0 {
		return 0
	}
	return max(0, math.Log(float64(ix.live+1)/float64(df)))
}

// Stats describes the size of an index for capacity reporting.
type Stats struct {
	Docs         int   // live documents
	Words        int   // vocabulary size
	Postings     int   // postings held, dead ones included
	DeadPostings int   // postings of removed documents not yet swept
	Bytes        int64 // approximate heap bytes held by the index
}

// Stats returns current sizes.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	b := int64(cap(ix.postings)) * 24
	for _, ps := range ix.postings {
		b += int64(cap(ps)) * 8
	}
	b += int64(cap(ix.docs))*8 + int64(cap(ix.invNorm))*4
	return Stats{Docs: ix.live, Words: len(ix.postings), Postings: ix.total, DeadPostings: ix.dead, Bytes: b}
}

// scratch is the per-query state, pooled so that a query allocates nothing:
// acc is a dense accumulator indexed by doc id and touched lists the ids
// whose entry is non-zero, so clearing costs only what the query touched.
type scratch struct {
	acc     []float32
	touched []uint32
	words   []uint32
	terms   []queryTerm
}

type queryTerm struct {
	word   uint32
	weight float32 // L1: normalised query weight; L2: query weight × idf
	idf    float32
}

// Query returns in out (reused, best first) the at most n documents with the
// highest similarity to the bag of words; ties go to the lower id. Only the
// postings of the query's words are read. Words outside the vocabulary are
// ignored.
func (ix *Index) Query(words []uint32, n int, out []Candidate) []Candidate {
	out = out[:0]
	if n <= 0 || len(words) == 0 {
		return out
	}
	s := ix.pool.Get().(*scratch)
	defer ix.pool.Put(s)
	s.words = append(s.words[:0], words...)
	slices.Sort(s.words)

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if len(s.acc) < len(ix.docs) {
		s.acc = make([]float32, cap(ix.docs))
	}
	stopDF := math.MaxInt
	if ix.opts.StopFraction < 1 {
		stopDF = max(ix.opts.StopMinDF, int(ix.opts.StopFraction*float64(ix.live)))
	}
	s.terms = s.terms[:0]
	var qnorm float64
	for i := 0; i < len(s.words); {
		j := i + 1
		for j < len(s.words) && s.words[j] == s.words[i] {
			j++
		}
		w, tf := s.words[i], j-i
		i = j
		if int(w) >= len(ix.postings) {
			continue
		}
		df := len(ix.postings[w])
		if df == 0 || df > stopDF {
			continue
		}
		idf := ix.idf(df)
		if idf <= 0 {
			continue
		}
		x := float64(tf) * idf
		if ix.opts.Scoring == L2 {
			qnorm += x * x
			x *= idf
		} else {
			qnorm += x
		}
		s.terms = append(s.terms, queryTerm{word: w, weight: float32(x), idf: float32(idf)})
	}
	if len(s.terms) == 0 {
		return out
	}
	checkGen := ix.dead > 0
	// When the query's postings outnumber the documents most documents get
	// touched, and tracking them costs more than scanning the whole
	// accumulator afterwards; otherwise track touched ids to keep the work
	// proportional to the postings read.
	scan := 0
	for _, t := range s.terms {
		scan += len(ix.postings[t.word])
	}
	dense := scan >= len(ix.docs)
	acc, touched := s.acc[:len(ix.docs)], s.touched[:0]
	if ix.opts.Scoring == L2 {
		for _, t := range s.terms {
			touched = ix.accumulateDot(acc, touched, ix.postings[t.word], t.weight, checkGen, dense)
		}
	} else {
		inv := float32(1 / qnorm)
		for _, t := range s.terms {
			touched = ix.accumulateMin(acc, touched, ix.postings[t.word], t.weight*inv, t.idf, checkGen, dense)
		}
	}
	if dense {
		touched = touched[:0]
		for d, x := range acc {
			if x > 0 {
				touched = append(touched, uint32(d))
			}
		}
	}
	if ix.opts.Scoring == L2 {
		scale := float32(1 / math.Sqrt(qnorm))
		for _, d := range touched {
			acc[d] *= ix.invNorm[d] * scale
		}
	}
	out = topN(acc, touched, n, out)
	if dense {
		clear(acc)
	} else {
		for _, d := range touched {
			acc[d] = 0
		}
	}
	s.touched = touched
	return out
}

// accumulateDot adds weight·tf for every live posting (L2 numerator).
func (ix *Index) accumulateDot(acc []float32, touched []uint32, ps []posting, weight float32, checkGen, dense bool) []uint32 {
	for _, p := range ps {
		if checkGen {
			if m := &ix.docs[p.doc]; !m.live || m.gen != p.gen {
				continue
			}
		}
		if !dense && acc[p.doc] == 0 {
			touched = append(touched, p.doc)
		}
		acc[p.doc] += weight * float32(p.tf)
	}
	return touched
}

// accumulateMin adds min(q̂_w, d̂_w) for every live posting (L1 intersection).
func (ix *Index) accumulateMin(acc []float32, touched []uint32, ps []posting, q, idf float32, checkGen, dense bool) []uint32 {
	inv := ix.invNorm[:len(acc)]
	for _, p := range ps {
		if checkGen {
			if m := &ix.docs[p.doc]; !m.live || m.gen != p.gen {
				continue
			}
		}
		x := min(q, float32(p.tf)*idf*inv[p.doc])
		if !dense && x > 0 && acc[p.doc] == 0 {
			touched = append(touched, p.doc)
		}
		acc[p.doc] += x
	}
	return touched
}

// topN selects the n best touched documents with a bounded min-heap whose
// root is the worst kept candidate, then sorts them best first.
func topN(acc []float32, touched []uint32, n int, out []Candidate) []Candidate {
	h := out[:0]
	for _, d := range touched {
		c := Candidate{Doc: d, Score: acc[d]}
		if len(h) < n {
			h = append(h, c)
			for i := len(h) - 1; i > 0; {
				parent := (i - 1) / 2
				if !worse(h[i], h[parent]) {
					break
				}
				h[i], h[parent] = h[parent], h[i]
				i = parent
			}
			continue
		}
		if !worse(h[0], c) {
			continue
		}
		h[0] = c
		for i := 0; ; {
			l, small := 2*i+1, i
			if l < len(h) && worse(h[l], h[small]) {
				small = l
			}
			if r := l + 1; r < len(h) && worse(h[r], h[small]) {
				small = r
			}
			if small == i {
				break
			}
			h[i], h[small] = h[small], h[i]
			i = small
		}
	}
	slices.SortFunc(h, func(a, b Candidate) int {
		if worse(b, a) {
			return -1
		}
		if worse(a, b) {
			return 1
		}
		return 0
	})
	return h
}

// worse orders candidates: lower score, then higher id, is worse.
func worse(a, b Candidate) bool {
	return a.Score < b.Score || (a.Score == b.Score && a.Doc > b.Doc)
}
