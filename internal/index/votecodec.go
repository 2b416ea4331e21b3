package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

const (
	voteMagic = "OVI"
	// voteVersion 2 added the position byte of each posting and the
	// documents' sides; version 1 streams are refused (the engine then
	// rebuilds from its store).
	voteVersion = 2
)

var voteCRC = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes the index as it stands: "OVI", version, vocabulary size,
// signature words, document states and sides, then every list (records, last
// document, byte length, bytes), and a CRC-32C of all that. Writers (Add,
// Remove) wait while it runs; queries do not.
func (ix *VoteIndex) WriteTo(w io.Writer) (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	cw := &crcWriter{w: bufio.NewWriterSize(w, 1<<20)}
	var b []byte
	b = append(b, voteMagic...)
	b = append(b, voteVersion)
	b = binary.AppendUvarint(b, uint64(len(ix.lists)))
	b = binary.AppendUvarint(b, uint64(ix.sigWords))
	b = binary.AppendUvarint(b, uint64(len(ix.state)))
	for _, s := range ix.state {
		b = append(b, byte(s))
	}
	for _, s := range ix.side {
		b = binary.LittleEndian.AppendUint16(b, s)
	}
	cw.write(b)
	for i := range ix.lists {
		l := &ix.lists[i]
		b = binary.AppendUvarint(b[:0], uint64(l.n))
		b = binary.AppendUvarint(b, uint64(l.last))
		b = binary.AppendUvarint(b, uint64(len(l.b)))
		cw.write(b)
		cw.write(l.b)
	}
	sum := cw.crc
	cw.write(binary.LittleEndian.AppendUint32(nil, sum))
	if cw.err == nil {
		cw.err = cw.w.Flush()
	}
	if cw.err != nil {
		return cw.n, fmt.Errorf("index: write vote index: %w", cw.err)
	}
	return cw.n, nil
}

type crcWriter struct {
	w   *bufio.Writer
	crc uint32
	n   int64
	err error
}

func (c *crcWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	c.crc = crc32.Update(c.crc, voteCRC, p)
	var k int
	k, c.err = c.w.Write(p)
	c.n += int64(k)
}

// ErrVoteCorrupt reports a vote index stream that cannot be read back.
var ErrVoteCorrupt = errors.New("index: corrupt vote index")

// ReadVoteIndex reads what WriteTo wrote. words must be the vocabulary size
// the index was built with.
func ReadVoteIndex(r io.Reader, words int) (*VoteIndex, error) {
	cr := &crcReader{r: bufio.NewReaderSize(r, 1<<20)}
	bad := func(what string) error {
		if cr.err != nil && !errors.Is(cr.err, io.EOF) && !errors.Is(cr.err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("index: read vote index: %w", cr.err)
		}
		return fmt.Errorf("%w: %s", ErrVoteCorrupt, what)
	}
	head := cr.bytes(4)
	if cr.err != nil || string(head[:3]) != voteMagic {
		return nil, bad("header")
	}
	if head[3] != voteVersion {
		return nil, bad(fmt.Sprintf("format version %d, this build reads %d", head[3], voteVersion))
	}
	if n := cr.uvarint(); n != uint64(words) {
		return nil, bad(fmt.Sprintf("built over %d words, vocabulary has %d", n, words))
	}
	sw := cr.uvarint()
	if sw != 1 && sw != 2 {
		return nil, bad("signature size")
	}
	ix := NewVoteIndex(words, int(64*sw))
	ndoc := cr.uvarint()
	if ndoc > MaxVoteDoc+1 {
		return nil, bad("document count")
	}
	states := cr.bytes(int(ndoc))
	if cr.err != nil {
		return nil, bad("document states")
	}
	ix.state = make([]docState, ndoc)
	ix.side = make([]uint16, ndoc)
	for d, s := range states {
		if s > byte(docDirty) {
			return nil, bad("document state")
		}
		ix.state[d] = docState(s)
		switch ix.state[d] {
		case docLive:
			ix.n++
		case docDirty:
			ix.dirty++
		}
	}
	sides := cr.bytes(2 * int(ndoc))
	if cr.err != nil {
		return nil, bad("document sides")
	}
	for d := range ix.side {
		ix.side[d] = binary.LittleEndian.Uint16(sides[2*d:])
	}
	rec := recordLen(int(sw))
	for i := range ix.lists {
		n, last, size := cr.uvarint(), cr.uvarint(), cr.uvarint()
		if cr.err != nil || last >= ndoc && n > 0 || size < n*uint64(rec+1) || size > n*uint64(rec+6) {
			return nil, bad(fmt.Sprintf("list %d", i))
		}
		if n == 0 {
			continue
		}
		l := &ix.lists[i]
		l.n, l.last = int32(n), uint32(last)
		l.b = make([]byte, size)
		cr.full(l.b)
		ix.total += int(n)
	}
	want := cr.crc
	sum := cr.bytes(4)
	if cr.err != nil || binary.LittleEndian.Uint32(sum) != want {
		return nil, bad("checksum")
	}
	if err := ix.checkDocs(); err != nil {
		return nil, bad(err.Error())
	}
	if ix.dirty > 0 {
		ix.dead = ix.total / 4 // unknown; a guess that compacts soon
	}
	return ix, nil
}

// checkDocs walks every list and verifies that each record names a known
// document, so a query can index by document without bounds checks.
func (ix *VoteIndex) checkDocs() error {
	rec := recordLen(ix.sigWords)
	for w := range ix.lists {
		l := &ix.lists[w]
		doc, k := uint32(0), int32(0)
		for p := 0; p < len(l.b); p += rec {
			doc, p = readDoc(l.b, p, doc)
			if p < 0 || p+rec > len(l.b) {
				return fmt.Errorf("list %d: bad record", w)
			}
			if int(doc) >= len(ix.state) || ix.state[doc] == docFree {
				return fmt.Errorf("list %d: record of unknown document %d", w, doc)
			}
			k++
		}
		if k != l.n || (k > 0 && doc != l.last) {
			return fmt.Errorf("list %d: %d records, header says %d", w, k, l.n)
		}
	}
	return nil
}

type crcReader struct {
	r   *bufio.Reader
	crc uint32
	err error
	buf []byte
}

func (c *crcReader) uvarint() uint64 {
	if c.err != nil {
		return 0
	}
	var v uint64
	for s := uint(0); ; s += 7 {
		b, err := c.r.ReadByte()
		if err != nil {
			c.err = err
			return 0
		}
		c.crc = crc32.Update(c.crc, voteCRC, []byte{b})
		if s > 63 {
			c.err = ErrVoteCorrupt
			return 0
		}
		v |= uint64(b&0x7f) << s
		if b < 0x80 {
			return v
		}
	}
}

func (c *crcReader) bytes(n int) []byte {
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	c.full(c.buf[:n])
	return c.buf[:n]
}

func (c *crcReader) full(p []byte) {
	if c.err != nil {
		return
	}
	if _, c.err = io.ReadFull(c.r, p); c.err == nil {
		c.crc = crc32.Update(c.crc, voteCRC, p)
	}
}
