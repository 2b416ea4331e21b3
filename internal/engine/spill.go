package engine

import (
	"container/list"
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"sync"

	"github.com/opencrs/opencrs/internal/blobfile"
	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/verify"
)

// loaded is what verification needs of a target: its features, thumbnail,
// vocabulary words (to index it again on reactivation) and the descriptors
// grouped by bucket for matching. An engine holds it in RAM per target, or,
// with Config.FeatureFile, in a record of the feature file read back (and
// cached) when the target is a candidate. At 100k targets the difference is
// some 17 GB of RAM against a few hundred MB (docs/CAPACITY.md).
type loaded struct {
	fs    *feature.Set
	thumb *image.Gray
	words []uint32
	prep  *verify.Prepared
}

// bytes approximates the heap a loaded target holds.
func (l *loaded) bytes() int64 {
	n := int64(len(l.fs.Keypoints))
	// keypoint 24 B + descriptor 32 B, the prepared copy 36 B, words 4 B.
	b := n * (24 + 32 + 36 + 4)
	if l.thumb != nil {
		b += int64(len(l.thumb.Pix))
	}
	return b
}

const (
	spillVersion = 1
	spillFeature = 5*4 + 1 + 32 + 3*4 // x y angle scale response, octave, descriptor, word bucket parent
)

// encodeSpill lays a target out for the feature file: version, width,
// height, count, thumbnail (w, h, pixels), then fixed-size feature records.
func encodeSpill(fs *feature.Set, thumb *image.Gray, qz *quantised) []byte {
	n := len(fs.Keypoints)
	b := make([]byte, 0, 32+n*spillFeature+thumbSide*thumbSide)
	b = append(b, spillVersion)
	b = binary.AppendUvarint(b, uint64(fs.Width))
	b = binary.AppendUvarint(b, uint64(fs.Height))
	b = binary.AppendUvarint(b, uint64(n))
	b = appendThumb(b, thumb)
	le := binary.LittleEndian
	for i := range fs.Keypoints {
		k := &fs.Keypoints[i]
		for _, f := range [...]float32{k.X, k.Y, k.Angle, k.Scale, k.Response} {
			b = le.AppendUint32(b, math.Float32bits(f))
		}
		b = append(b, k.Octave)
		for _, w := range fs.Descriptors[i] {
			b = le.AppendUint64(b, w)
		}
		b = le.AppendUint32(b, qz.words[i])
		b = le.AppendUint32(b, qz.buckets[i])
		b = le.AppendUint32(b, qz.parents[i])
	}
	return b
}

// decodeSpill reverses encodeSpill and groups the descriptors for matching.
func decodeSpill(b []byte) (*loaded, error) {
	bad := func(what string) error { return fmt.Errorf("%w: feature record: %s", ErrCorrupt, what) }
	if len(b) < 1 || b[0] != spillVersion {
		return nil, bad("version")
	}
	b = b[1:]
	var v [5]uint64
	for i := range v {
		x, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, bad("header")
		}
		v[i], b = x, b[k:]
	}
	width, height, n, tw, th := v[0], v[1], v[2], v[3], v[4]
	if width > 1<<16 || height > 1<<16 || tw > 4*thumbSide || th > 4*thumbSide || uint64(len(b)) != tw*th+n*spillFeature {
		return nil, bad("sizes")
	}
	l := &loaded{fs: &feature.Set{Width: int(width), Height: int(height),
		Keypoints: make([]feature.Keypoint, n), Descriptors: make([]feature.Descriptor, n)},
		words: make([]uint32, n)}
	if tw > 0 && th > 0 {
		l.thumb = image.NewGray(image.Rect(0, 0, int(tw), int(th)))
		copy(l.thumb.Pix, b)
	}
	b = b[tw*th:]
	buckets := make([]uint32, n)
	parents := make([]uint32, n)
	le := binary.LittleEndian
	f32 := func(o int) float32 { return math.Float32frombits(le.Uint32(b[o:])) }
	for i := range l.fs.Keypoints {
		l.fs.Keypoints[i] = feature.Keypoint{X: f32(0), Y: f32(4), Angle: f32(8), Scale: f32(12), Response: f32(16), Octave: b[20]}
		d := &l.fs.Descriptors[i]
		for j := range d {
			d[j] = le.Uint64(b[21+8*j:])
		}
		l.words[i] = le.Uint32(b[53:])
		buckets[i] = le.Uint32(b[57:])
		parents[i] = le.Uint32(b[61:])
		b = b[spillFeature:]
	}
	prep, err := prepare(l.fs, buckets, parents)
	if err != nil {
		return nil, bad(err.Error())
	}
	l.prep = prep
	return l, nil
}

// prepare is verify.PrepareCoarse for buckets read from a file, which may
// be damaged: its panic on inconsistent buckets becomes an error.
func prepare(fs *feature.Set, buckets, parents []uint32) (p *verify.Prepared, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return verify.PrepareCoarse(fs, buckets, parents), nil
}

// spill is the feature file and a cache of recently decoded records.
type spill struct {
	file *blobfile.File
	bufs sync.Pool // *[]byte

	mu    sync.Mutex
	max   int
	lru   list.List // of *cached, most recent first
	byRef map[blobfile.Ref]*list.Element
}

type cached struct {
	ref blobfile.Ref
	l   *loaded
}

func newSpill(f *blobfile.File, cache int) *spill {
	return &spill{file: f, max: cache, byRef: map[blobfile.Ref]*list.Element{}}
}

func (s *spill) put(b []byte) (blobfile.Ref, error) { return s.file.Append(b) }

// get returns the decoded record at ref.
func (s *spill) get(ref blobfile.Ref) (*loaded, error) {
	s.mu.Lock()
	if el, ok := s.byRef[ref]; ok {
		s.lru.MoveToFront(el)
		l := el.Value.(*cached).l
		s.mu.Unlock()
		return l, nil
	}
	s.mu.Unlock()
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b, err := s.file.Read(ref, *bp)
	if err != nil {
		return nil, err
	}
	l, err := decodeSpill(b)
	*bp = b[:0]
	s.bufs.Put(bp)
	if err != nil {
		return nil, err
	}
	if s.max > 0 {
		s.mu.Lock()
		if _, ok := s.byRef[ref]; !ok {
			s.byRef[ref] = s.lru.PushFront(&cached{ref, l})
			for s.lru.Len() > s.max {
				old := s.lru.Remove(s.lru.Back()).(*cached)
				delete(s.byRef, old.ref)
			}
		}
		s.mu.Unlock()
	}
	return l, nil
}

// cachedBytes approximates the heap the cache holds.
func (s *spill) cachedBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b int64
	for el := s.lru.Front(); el != nil; el = el.Next() {
		b += el.Value.(*cached).l.bytes()
	}
	return b
}
