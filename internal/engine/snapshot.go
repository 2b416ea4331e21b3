package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/opencrs/opencrs/internal/blobfile"
	"github.com/opencrs/opencrs/internal/index"
)

// A snapshot lets an engine with a feature file restart without
// re-indexing: it holds the target table (id, doc, feature record, active,
// version) and the vote index as they stood, and the length of the feature
// file then. Records appended after it are cut off on Open, so the pair is
// always consistent; targets added or changed since are the caller's to
// replay (Versions tells it what the engine has).
//
// Layout: "OCE", version, vocabulary fingerprint (8 bytes), signature bits,
// bucket and verify levels, posting cap, second-word level + 1 and slack,
// feature file length, target count, per target id (uvarint length +
// bytes), doc, ref, active, version (uvarints), a CRC-32C of all of it (4
// bytes), then the vote index stream, which carries its own checksum.
const (
	snapMagic = "OCE"
	// Version 2 adds the second-word parameters to the header: postings
	// of version 1 lack the second words.
	snapVersion = 2
)

// ErrSnapshot reports a snapshot that cannot be used: damaged, or written
// by an engine with another vocabulary or configuration.
var ErrSnapshot = errors.New("engine: unusable snapshot")

var snapCRC = crc32.MakeTable(crc32.Castagnoli)

// AddVersion is Add that also records an opaque version of the target (the
// service uses its modification time), returned by Versions and kept in
// snapshots.
func (e *Engine) AddVersion(id string, t *Target, active bool, version uint64) error {
	return e.add(id, t, active, version)
}

// TargetState is what the engine holds of one target.
type TargetState struct {
	Active  bool
	Version uint64
}

// Versions returns every target the engine holds.
func (e *Engine) Versions() map[string]TargetState {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make(map[string]TargetState, len(e.byID))
	for id, en := range e.byID {
		out[id] = TargetState{Active: en.active, Version: en.version}
	}
	return out
}

// WriteSnapshot saves the engine to path (atomically: a temporary file
// renamed into place after fsync). It needs Config.FeatureFile. Searches
// proceed while it runs; Add, Remove and SetActive wait.
func (e *Engine) WriteSnapshot(path string) error {
	if e.spill == nil {
		return errors.New("engine: snapshots need a feature file")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("engine: snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = e.writeSnapshot(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("engine: snapshot: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (e *Engine) writeSnapshot(f *os.File) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	// Records the table points to must be on disk before the table is.
	if err := e.spill.file.Sync(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	b := e.snapHeader()
	b = binary.AppendUvarint(b, uint64(e.spill.file.Size()))
	b = binary.AppendUvarint(b, uint64(len(e.byID)))
	for _, en := range e.byDoc {
		if en == nil {
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(en.id)))
		b = append(b, en.id...)
		b = binary.AppendUvarint(b, uint64(en.doc))
		b = binary.AppendUvarint(b, uint64(en.ref))
		act := uint64(0)
		if en.active {
			act = 1
		}
		b = binary.AppendUvarint(b, act)
		b = binary.AppendUvarint(b, en.version)
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, snapCRC))
	if _, err := w.Write(b); err != nil {
		return err
	}
	if _, err := e.votes.WriteTo(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// snapHeader is what must match between the writer and the reader.
func (e *Engine) snapHeader() []byte {
	b := append([]byte(snapMagic), snapVersion)
	b = binary.LittleEndian.AppendUint64(b, e.vocab.Fingerprint())
	b = binary.AppendUvarint(b, uint64(e.cfg.VoteSigBits))
	b = binary.AppendUvarint(b, uint64(e.cfg.BucketLevel))
	b = binary.AppendUvarint(b, uint64(e.cfg.VerifyLevel))
	b = binary.AppendUvarint(b, uint64(max(0, e.cfg.VoteMaxPostings)))
	b = binary.AppendUvarint(b, uint64(max(-1, e.cfg.VoteSecondLevel)+1))
	b = binary.AppendUvarint(b, uint64(e.cfg.VoteSecondSlack))
	return b
}

// Open returns an engine restored from the snapshot at path, with the
// feature file of cfg cut back to what the snapshot knows. It fails with
// ErrSnapshot when the snapshot is damaged or was written with another
// vocabulary or index configuration; the caller then starts afresh with New
// and re-adds its targets.
func Open(cfg Config, path string) (*Engine, error) {
	if cfg.FeatureFile == "" || cfg.BagOfWords {
		return nil, errors.New("engine: snapshots need a feature file and the vote index")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("engine: open snapshot: %w", err)
	}
	defer f.Close()
	e, err := newEngine(cfg, -1)
	if err != nil {
		return nil, err
	}
	if err := e.readSnapshot(bufio.NewReaderSize(f, 1<<20)); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) readSnapshot(r *bufio.Reader) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrSnapshot, what) }
	want := e.snapHeader()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != string(want) {
		return bad("written by another vocabulary or configuration")
	}
	crc := crc32.Update(0, snapCRC, got)
	var rerr error
	uv := func() uint64 {
		if rerr != nil {
			return 0
		}
		v, err := binary.ReadUvarint(byteCRC{r, &crc})
		if err != nil {
			rerr = err
		}
		return v
	}
	size := uv()
	n := uv()
	if rerr != nil || n > index.MaxVoteDoc {
		return bad("table header")
	}
	byDoc := []*entry{}
	byID := make(map[string]*entry, n)
	for range n {
		l := uv()
		if rerr != nil || l > 1<<16 {
			return bad("target id")
		}
		id := make([]byte, l)
		if _, err := io.ReadFull(r, id); err != nil {
			return bad("target id")
		}
		crc = crc32.Update(crc, snapCRC, id)
		en := &entry{id: string(id), doc: uint32(uv()), ref: blobfile.Ref(uv()), active: uv() == 1, version: uv()}
		if rerr != nil || uint64(en.doc) > index.MaxVoteDoc || uint64(en.ref.Off())+uint64(en.ref.Len()) > size || byID[en.id] != nil {
			return bad("target table")
		}
		for int(en.doc) >= len(byDoc) {
			byDoc = append(byDoc, nil)
		}
		if byDoc[en.doc] != nil {
			return bad("target table: doc used twice")
		}
		byDoc[en.doc], byID[en.id] = en, en
	}
	var sum [4]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil || binary.LittleEndian.Uint32(sum[:]) != crc {
		return bad("table checksum")
	}
	votes, err := index.ReadVoteIndex(r, e.vocab.Words())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if votes.SigBits() != e.cfg.VoteSigBits {
		return bad("signature size")
	}
	// Active targets and live index documents must agree.
	live := 0
	for _, en := range byDoc {
		if en != nil && en.active {
			live++
			if votes.Reusable(en.doc) {
				return bad(fmt.Sprintf("active target %q not indexed", en.id))
			}
		}
	}
	if live != votes.Len() {
		return bad("index and table disagree")
	}
	if e.spill.file.Size() < int64(size) {
		return bad("feature file shorter than the snapshot")
	}
	f, err := blobfile.Open(e.cfg.FeatureFile, int64(size))
	if err != nil {
		return err
	}
	e.spill.file.Close()
	e.spill = newSpill(f, e.cfg.FeatureCache)
	e.votes = votes
	e.byDoc, e.byID = byDoc, byID
	for d, en := range byDoc {
		if en == nil {
			e.free = append(e.free, uint32(d))
		}
	}
	return nil
}

type byteCRC struct {
	r   *bufio.Reader
	crc *uint32
}

func (b byteCRC) ReadByte() (byte, error) {
	c, err := b.r.ReadByte()
	if err == nil {
		*b.crc = crc32.Update(*b.crc, snapCRC, []byte{c})
	}
	return c, err
}
