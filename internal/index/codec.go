package index

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Index file format, version 1, integers little endian unless varint:
//
//	"OCIX" magic, u32 version, u32 words, u32 doc slots (max doc id + 1)
//	frames, each u32 payload length, u32 CRC-32C of the payload, payload;
//	a frame of length 0 ends the stream.
//
// The first frame lists the live documents: uvarint count, then ascending
// ids as uvarint gaps. Every later frame holds whole posting lists, in
// ascending word order: uvarint (word - previous word - 1), uvarint count,
// then count × (zigzag varint doc - previous doc, uvarint tf). Only live
// postings are written; norms are not stored but recomputed on load, which
// also refreshes them with the idf of the loaded collection.
//
// Framing keeps memory bounded on both sides and lets the reader verify a
// checksum before parsing a byte of the frame.
const (
	indexMagic   = "OCIX"
	indexVersion = 1
	frameTarget  = 1 << 20
	maxFrame     = 1 << 28
)

// WriteTo writes a snapshot of the index. It holds the read lock while
// writing, so writers wait for it; queries do not.
func (ix *Index) WriteTo(w io.Writer) (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	fw := &frameWriter{w: bufio.NewWriterSize(w, 1<<16)}
	hdr := make([]byte, 0, 16)
	hdr = append(hdr, indexMagic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, indexVersion)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(ix.postings)))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(ix.docs)))
	fw.raw(hdr)

	buf := binary.AppendUvarint(nil, uint64(ix.live))
	prev := -1
	for d, m := range ix.docs {
		if m.live {
			buf = binary.AppendUvarint(buf, uint64(d-prev-1))
			prev = d
		}
	}
	fw.frame(buf)
	buf = buf[:0]
	prevWord := -1
	for word, ps := range ix.postings {
		n := 0
		for _, p := range ps {
			if ix.alive(p) {
				n++
			}
		}
		if n == 0 {
			continue
		}
		buf = binary.AppendUvarint(buf, uint64(word-prevWord-1))
		buf = binary.AppendUvarint(buf, uint64(n))
		prevWord = word
		prevDoc := int64(0)
		for _, p := range ps {
			if ix.alive(p) {
				buf = binary.AppendVarint(buf, int64(p.doc)-prevDoc)
				buf = binary.AppendUvarint(buf, uint64(p.tf))
				prevDoc = int64(p.doc)
			}
		}
		if len(buf) >= frameTarget {
			fw.frame(buf)
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		fw.frame(buf)
	}
	fw.frame(nil)
	if fw.err == nil {
		fw.err = fw.w.Flush()
	}
	if fw.err != nil {
		return fw.n, fmt.Errorf("index: write: %w", fw.err)
	}
	return fw.n, nil
}

func (ix *Index) alive(p posting) bool {
	m := &ix.docs[p.doc]
	return m.live && m.gen == p.gen
}

type frameWriter struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (f *frameWriter) raw(b []byte) {
	if f.err != nil {
		return
	}
	m, err := f.w.Write(b)
	f.n += int64(m)
	f.err = err
}

func (f *frameWriter) frame(payload []byte) {
	var h [8]byte
	binary.LittleEndian.PutUint32(h[:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(payload, castagnoli))
	f.raw(h[:])
	f.raw(payload)
}

// ReadFrom replaces the contents of the index with a snapshot written by
// WriteTo. The snapshot must be for the same vocabulary size. On error the
// index is left unchanged. It reads exactly the snapshot's bytes from r.
func (ix *Index) ReadFrom(r io.Reader) (int64, error) {
	fr := &frameReader{r: r}
	n, err := ix.readFrom(fr)
	if err != nil {
		return fr.n, fmt.Errorf("index: read: %w", err)
	}
	return n, nil
}

func (ix *Index) readFrom(fr *frameReader) (int64, error) {
	var hdr [16]byte
	if err := fr.full(hdr[:]); err != nil {
		return fr.n, err
	}
	if string(hdr[:4]) != indexMagic {
		return fr.n, fmt.Errorf("%w: bad index magic", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(hdr[4:]); v != indexVersion {
		return fr.n, fmt.Errorf("%w: unsupported index version %d", ErrCorrupt, v)
	}
	words := int(binary.LittleEndian.Uint32(hdr[8:]))
	slots := int64(binary.LittleEndian.Uint32(hdr[12:]))
	if words != len(ix.postings) {
		return fr.n, fmt.Errorf("index snapshot has %d words, index has %d", words, len(ix.postings))
	}
	if slots > MaxDoc+1 {
		return fr.n, fmt.Errorf("%w: %d doc slots", ErrCorrupt, slots)
	}

	p, err := fr.frame()
	if err != nil {
		return fr.n, err
	}
	live, k := binary.Uvarint(p)
	if k <= 0 || live > uint64(slots) {
		return fr.n, fmt.Errorf("%w: bad document list", ErrCorrupt)
	}
	p = p[k:]
	docs := make([]docMeta, slots)
	next := uint64(0)
	for range live {
		gap, k := binary.Uvarint(p)
		if k <= 0 || gap >= uint64(slots)-next {
			return fr.n, fmt.Errorf("%w: bad document list", ErrCorrupt)
		}
		p = p[k:]
		docs[next+gap].live = true
		next += gap + 1
	}
	if len(p) != 0 {
		return fr.n, fmt.Errorf("%w: trailing bytes in document list", ErrCorrupt)
	}

	postings := make([][]posting, words)
	last := make([]uint32, slots) // word+1 of the doc's latest posting, to catch duplicates
	total := 0
	nextWord := uint64(0)
	for {
		p, err := fr.frame()
		if err != nil {
			return fr.n, err
		}
		if len(p) == 0 {
			break
		}
		for len(p) > 0 {
			gap, k := binary.Uvarint(p)
			if k <= 0 || gap >= uint64(words)-nextWord {
				return fr.n, fmt.Errorf("%w: bad word", ErrCorrupt)
			}
			p = p[k:]
			word := nextWord + gap
			nextWord = word + 1
			cnt, k := binary.Uvarint(p)
			if k <= 0 || cnt == 0 || cnt > uint64(len(p)) {
				return fr.n, fmt.Errorf("%w: bad posting count", ErrCorrupt)
			}
			p = p[k:]
			ps := make([]posting, cnt)
			doc := int64(0)
			for i := range ps {
				delta, k := binary.Varint(p)
				if k <= 0 {
					return fr.n, fmt.Errorf("%w: bad posting", ErrCorrupt)
				}
				p = p[k:]
				tf, k := binary.Uvarint(p)
				if k <= 0 || tf == 0 || tf > math.MaxUint16 {
					return fr.n, fmt.Errorf("%w: bad term frequency", ErrCorrupt)
				}
				p = p[k:]
				doc += delta
				if doc < 0 || doc >= slots || !docs[doc].live || last[doc] == uint32(word)+1 {
					return fr.n, fmt.Errorf("%w: bad posting for doc %d", ErrCorrupt, doc)
				}
				last[doc] = uint32(word) + 1
				docs[doc].n++
				ps[i] = posting{doc: uint32(doc), tf: uint16(tf)}
			}
			postings[word] = ps
			total += len(ps)
		}
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.postings, ix.docs, ix.invNorm = postings, docs, make([]float32, slots)
	ix.live, ix.total, ix.dead = int(live), total, 0
	ix.sweeping, ix.sweepNext = false, 0
	ix.reweightLocked()
	return fr.n, nil
}

type frameReader struct {
	r   io.Reader
	n   int64
	buf []byte
}

func (f *frameReader) full(b []byte) error {
	m, err := io.ReadFull(f.r, b)
	f.n += int64(m)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// frame returns the next verified payload, valid until the next call.
func (f *frameReader) frame() ([]byte, error) {
	var h [8]byte
	if err := f.full(h[:]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(h[:])
	if size > maxFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrCorrupt, size)
	}
	if cap(f.buf) < int(size) {
		f.buf = make([]byte, size)
	}
	b := f.buf[:size]
	if err := f.full(b); err != nil {
		return nil, err
	}
	if crc32.Checksum(b, castagnoli) != binary.LittleEndian.Uint32(h[4:]) {
		return nil, fmt.Errorf("%w: frame checksum mismatch", ErrCorrupt)
	}
	return b, nil
}
