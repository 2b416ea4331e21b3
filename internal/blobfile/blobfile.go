// Package blobfile is an append-only file of checksummed records read back
// by position. The engine keeps the verification features of large databases
// in one, so that only the inverted index has to live in RAM: a search reads
// the dozen records of its candidates with pread, served from the OS page
// cache when memory allows and from disk when it does not.
//
// Records are never rewritten. Space of removed records is reclaimed only by
// copying the live ones into a new file (the owner decides when).
package blobfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
)

// Ref locates a record: its offset in the file (40 bits) and its length
// with header (24 bits).
type Ref uint64

const (
	headerLen = 8 // length uint32, CRC-32C of the payload uint32
	// MaxRecord is the largest payload Append accepts.
	MaxRecord = 1<<24 - 1 - headerLen
	maxOffset = 1<<40 - 1
)

// Off returns the record's offset.
func (r Ref) Off() int64 { return int64(r >> 24) }

// Len returns the record's length on disk, header included.
func (r Ref) Len() int { return int(r & (1<<24 - 1)) }

// ErrCorrupt reports a record whose header or checksum does not match.
var ErrCorrupt = errors.New("blobfile: corrupt record")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// File is an open blob file. It is safe for concurrent use; reads never
// wait for appends.
type File struct {
	f    *os.File
	mu   sync.Mutex // serialises appends
	size int64
	buf  []byte
}

// Open opens or creates the file at path. A file longer than truncate is cut
// to that length (records past a snapshot are orphans); truncate < 0 keeps
// it whole.
func Open(path string, truncate int64) (*File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("blobfile: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blobfile: %w", err)
	}
	size := st.Size()
	if truncate >= 0 && truncate < size {
		if err := f.Truncate(truncate); err != nil {
			f.Close()
			return nil, fmt.Errorf("blobfile: %w", err)
		}
		size = truncate
	}
	return &File{f: f, size: size}, nil
}

// Append writes a record and returns where it is.
func (f *File) Append(p []byte) (Ref, error) {
	if len(p) > MaxRecord {
		return 0, fmt.Errorf("blobfile: record of %d bytes exceeds %d", len(p), MaxRecord)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.size+int64(len(p))+headerLen > maxOffset {
		return 0, errors.New("blobfile: file full")
	}
	f.buf = binary.LittleEndian.AppendUint32(f.buf[:0], uint32(len(p)))
	f.buf = binary.LittleEndian.AppendUint32(f.buf, crc32.Checksum(p, castagnoli))
	f.buf = append(f.buf, p...)
	if _, err := f.f.WriteAt(f.buf, f.size); err != nil {
		return 0, fmt.Errorf("blobfile: append: %w", err)
	}
	r := Ref(uint64(f.size)<<24 | uint64(len(f.buf)))
	f.size += int64(len(f.buf))
	if cap(f.buf) > 1<<20 {
		f.buf = nil
	}
	return r, nil
}

// Read returns the payload of the record at r, in buf if it is large
// enough.
func (f *File) Read(r Ref, buf []byte) ([]byte, error) {
	n := r.Len()
	if n < headerLen {
		return nil, fmt.Errorf("%w: ref %#x", ErrCorrupt, uint64(r))
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := f.f.ReadAt(buf, r.Off()); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: record at %d past the end", ErrCorrupt, r.Off())
		}
		return nil, fmt.Errorf("blobfile: read: %w", err)
	}
	if int(binary.LittleEndian.Uint32(buf)) != n-headerLen ||
		binary.LittleEndian.Uint32(buf[4:]) != crc32.Checksum(buf[headerLen:], castagnoli) {
		return nil, fmt.Errorf("%w at %d", ErrCorrupt, r.Off())
	}
	return buf[headerLen:], nil
}

// Size returns the file's length: the offset of the next record.
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}

// Sync flushes the file to stable storage.
func (f *File) Sync() error {
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("blobfile: sync: %w", err)
	}
	return nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }
