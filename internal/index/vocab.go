package index

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"math"

	"github.com/opencrs/opencrs/internal/feature"
)

// Vocabulary is a trained vocabulary tree. It is immutable after construction
// and safe for concurrent use.
//
// Nodes are stored breadth first in one flat array with the children of a
// node contiguous, so a descent reads one short run of centroids per level.
// Leaves are the words, numbered in breadth-first order; the root has no
// centroid. Node ids (as returned by LookupPath) are indices in that order.
type Vocabulary struct {
	branching int
	depth     int
	words     int
	nodes     []node
	centroids []feature.Descriptor // index-aligned with nodes
	idf       []float32            // per word; nil when the file carries none
}

type node struct {
	first uint32 // index of the first child
	n     uint8  // number of children; 0 for a leaf
	level uint8  // root is 0
	word  uint32 // word id of a leaf
}

// Limits that make a corrupt header fail fast instead of allocating wildly.
const (
	maxBranching = 255 // children count is a byte
	maxDepth     = 16
	maxNodes     = 1 << 24
)

// ErrCorrupt reports a vocabulary or index encoding that cannot be decoded.
var ErrCorrupt = errors.New("index: corrupt encoding")

// newVocabulary checks the breadth-first shape given by nchild and builds
// the node table. centroids has one entry per node (the root's is ignored).
func newVocabulary(branching, depth int, nchild []uint8, centroids []feature.Descriptor, idf []float32) (*Vocabulary, error) {
	if branching < 2 || branching > maxBranching || depth < 1 || depth > maxDepth {
		return nil, fmt.Errorf("%w: branching %d, depth %d out of range", ErrCorrupt, branching, depth)
	}
	if len(nchild) == 0 || len(nchild) > maxNodes || len(centroids) != len(nchild) {
		return nil, fmt.Errorf("%w: %d nodes, %d centroids", ErrCorrupt, len(nchild), len(centroids))
	}
	v := &Vocabulary{branching: branching, depth: depth, nodes: make([]node, len(nchild)), centroids: centroids}
	next := 1
	for i, n := range nchild {
		if i > 0 && i >= next {
			return nil, fmt.Errorf("%w: node %d has no parent", ErrCorrupt, i)
		}
		if int(n) > branching {
			return nil, fmt.Errorf("%w: node %d has %d children, branching is %d", ErrCorrupt, i, n, branching)
		}
		nd := &v.nodes[i]
		nd.first, nd.n = uint32(next), n
		if n == 0 {
			nd.word = uint32(v.words)
			v.words++
			continue
		}
		if int(nd.level) >= depth {
			return nil, fmt.Errorf("%w: node %d deeper than depth %d", ErrCorrupt, i, depth)
		}
		if next+int(n) > len(nchild) {
			return nil, fmt.Errorf("%w: node %d children beyond the node table", ErrCorrupt, i)
		}
		for c := next; c < next+int(n); c++ {
			v.nodes[c].level = nd.level + 1
		}
		next += int(n)
	}
	if next != len(nchild) {
		return nil, fmt.Errorf("%w: %d nodes reachable of %d", ErrCorrupt, next, len(nchild))
	}
	if idf != nil && len(idf) != v.words {
		return nil, fmt.Errorf("%w: %d idf weights for %d words", ErrCorrupt, len(idf), v.words)
	}
	v.idf = idf
	return v, nil
}

// Fingerprint identifies the vocabulary's tree: files built over one
// vocabulary (an engine snapshot) are refused with another.
func (v *Vocabulary) Fingerprint() uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range v.nodes {
		nd := &v.nodes[i]
		for _, w := range v.centroids[i] {
			binary.LittleEndian.PutUint64(b[:], w)
			h.Write(b[:])
		}
		binary.LittleEndian.PutUint64(b[:], uint64(nd.n)<<32|uint64(nd.word))
		h.Write(b[:])
	}
	return h.Sum64()
}

// Words returns the number of words (leaves); word ids are 0 … Words()-1.
func (v *Vocabulary) Words() int { return v.words }

// Nodes returns the number of tree nodes, root included; node ids returned by
// LookupPath are below it.
func (v *Vocabulary) Nodes() int { return len(v.nodes) }

// Branching returns the maximum number of children per node.
func (v *Vocabulary) Branching() int { return v.branching }

// Depth returns the maximum depth of a leaf (the root is level 0).
func (v *Vocabulary) Depth() int { return v.depth }

// IDF returns the inverse document frequency of word over the training
// images, or 0 when the vocabulary carries no weights or the word is unknown.
// It is a prior for databases too small for their own statistics.
func (v *Vocabulary) IDF(word uint32) float32 {
	if int(word) >= len(v.idf) {
		return 0
	}
	return v.idf[word]
}

// Lookup quantises d to a word by greedy descent: at each level it moves to
// the child whose centroid is nearest in Hamming distance (the first on
// ties).
func (v *Vocabulary) Lookup(d *feature.Descriptor) (word uint32) {
	nd := &v.nodes[0]
	for nd.n > 0 {
		best := v.nearestChild(nd, d)
		nd = &v.nodes[best]
	}
	return nd.word
}

// LookupPath is Lookup that also returns the id of the node passed at the
// given level (the leaf itself when the branch is shallower). Descriptors of
// two images that share that coarse node are candidate matches, which lets
// verification match within small buckets instead of all pairs.
func (v *Vocabulary) LookupPath(d *feature.Descriptor, level int) (word, node uint32) {
	cur := uint32(0)
	nd := &v.nodes[0]
	at := uint32(0)
	for nd.n > 0 {
		if int(nd.level) == level {
			at = cur
		}
		cur = v.nearestChild(nd, d)
		nd = &v.nodes[cur]
	}
	if int(nd.level) <= level {
		at = cur
	}
	return nd.word, at
}

// LookupAll appends the word of every descriptor to words and returns it.
func (v *Vocabulary) LookupAll(ds []feature.Descriptor, words []uint32) []uint32 {
	for i := range ds {
		words = append(words, v.Lookup(&ds[i]))
	}
	return words
}

func (v *Vocabulary) nearestChild(nd *node, d *feature.Descriptor) uint32 {
	cs := v.centroids[nd.first : nd.first+uint32(nd.n)]
	best, bestD := 0, math.MaxInt
	for i := range cs {
		if dd := feature.Distance(&cs[i], d); dd < bestD {
			best, bestD = i, dd
		}
	}
	return nd.first + uint32(best)
}

// Vocabulary file format, version 1, all integers little endian:
//
//	"OCVB" magic
//	u32 version, branching, depth, node count, word count, flags (bit 0: idf present)
//	node count bytes: children per node, breadth first, root first
//	(node count - 1) × 32 bytes: centroids of nodes 1…, four u64 each
//	word count × f32: idf weights, if flagged
//	u32 CRC-32C of everything before it
const (
	vocabMagic   = "OCVB"
	vocabVersion = 1
	vocabHeader  = 4 + 6*4
	flagIDF      = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes the vocabulary in its versioned binary format.
func (v *Vocabulary) WriteTo(w io.Writer) (int64, error) {
	n := len(v.nodes)
	size := vocabHeader + n + (n-1)*32 + len(v.idf)*4 + 4
	buf := make([]byte, 0, size)
	buf = append(buf, vocabMagic...)
	flags := uint32(0)
	if v.idf != nil {
		flags |= flagIDF
	}
	for _, x := range []uint32{vocabVersion, uint32(v.branching), uint32(v.depth), uint32(n), uint32(v.words), flags} {
		buf = binary.LittleEndian.AppendUint32(buf, x)
	}
	for i := range v.nodes {
		buf = append(buf, v.nodes[i].n)
	}
	for i := 1; i < n; i++ {
		for _, x := range v.centroids[i] {
			buf = binary.LittleEndian.AppendUint64(buf, x)
		}
	}
	for _, x := range v.idf {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	m, err := w.Write(buf)
	if err != nil {
		return int64(m), fmt.Errorf("index: write vocabulary: %w", err)
	}
	return int64(m), nil
}

// ReadVocabulary decodes a vocabulary written by WriteTo. It reads exactly
// the bytes of one vocabulary from r.
func ReadVocabulary(r io.Reader) (*Vocabulary, error) {
	hdr := make([]byte, vocabHeader)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("index: read vocabulary header: %w", err)
	}
	if string(hdr[:4]) != vocabMagic {
		return nil, fmt.Errorf("%w: bad vocabulary magic", ErrCorrupt)
	}
	var h [6]uint32
	for i := range h {
		h[i] = binary.LittleEndian.Uint32(hdr[4+4*i:])
	}
	version, branching, depth, n, words, flags := h[0], h[1], h[2], h[3], h[4], h[5]
	if version != vocabVersion {
		return nil, fmt.Errorf("%w: unsupported vocabulary version %d", ErrCorrupt, version)
	}
	if n == 0 || n > maxNodes || words == 0 || words > n || flags&^flagIDF != 0 {
		return nil, fmt.Errorf("%w: vocabulary header (%d nodes, %d words, flags %#x)", ErrCorrupt, n, words, flags)
	}
	size := int(n) + int(n-1)*32 + 4
	if flags&flagIDF != 0 {
		size += int(words) * 4
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("index: read vocabulary: %w", err)
	}
	crc := crc32.Update(crc32.Checksum(hdr, castagnoli), castagnoli, body[:size-4])
	if crc != binary.LittleEndian.Uint32(body[size-4:]) {
		return nil, fmt.Errorf("%w: vocabulary checksum mismatch", ErrCorrupt)
	}
	nchild := body[:n]
	p := body[n:]
	centroids := make([]feature.Descriptor, n)
	for i := 1; i < int(n); i++ {
		for j := range centroids[i] {
			centroids[i][j] = binary.LittleEndian.Uint64(p)
			p = p[8:]
		}
	}
	var idf []float32
	if flags&flagIDF != 0 {
		idf = make([]float32, words)
		for i := range idf {
			idf[i] = math.Float32frombits(binary.LittleEndian.Uint32(p))
			p = p[4:]
		}
	}
	v, err := newVocabulary(int(branching), int(depth), nchild, centroids, idf)
	if err != nil {
		return nil, err
	}
	if v.words != int(words) {
		return nil, fmt.Errorf("%w: header says %d words, tree has %d", ErrCorrupt, words, v.words)
	}
	return v, nil
}

//go:embed vocab/default.voc
var defaultVocab []byte

// DefaultVocabulary decodes the vocabulary embedded in the binary (trained on
// real images with `opencrs vocab train`). Each call decodes afresh, so
// callers should decode once and share the result.
func DefaultVocabulary() (*Vocabulary, error) {
	v, err := ReadVocabulary(bytes.NewReader(defaultVocab))
	if err != nil {
		return nil, fmt.Errorf("index: default vocabulary: %w", err)
	}
	return v, nil
}
