// Package feature defines the local image features that flow between the
// extractor (internal/vision), the index (internal/index) and geometric
// verification (internal/verify), and their versioned binary encoding, so the
// service can store a target's features and never re-extract them.
package feature

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Descriptor is a 256-bit binary descriptor.
type Descriptor [4]uint64

// Distance is the Hamming distance between two descriptors.
func Distance(a, b *Descriptor) int {
	return bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[1]^b[1]) +
		bits.OnesCount64(a[2]^b[2]) + bits.OnesCount64(a[3]^b[3])
}

// Keypoint is a detected corner, in pixel coordinates of the full-resolution
// (level 0) image the features were extracted from.
type Keypoint struct {
	X, Y     float32
	Angle    float32 // radians, orientation of the patch
	Response float32 // corner strength (Harris), larger is stronger
	Octave   uint8   // pyramid level the keypoint was found on
	Scale    float32 // size of the level relative to level 0 (1, 1/1.2, ...)
}

// Set is the features of one image: keypoints and their descriptors, index-aligned.
type Set struct {
	Width, Height int // size of the image the features were extracted from
	Keypoints     []Keypoint
	Descriptors   []Descriptor
}

// Len returns the number of features.
func (s *Set) Len() int { return len(s.Keypoints) }

const (
	magic   = "OCF"
	version = 1
	kpBytes = 4 + 4 + 4 + 4 + 1 + 4
	dsBytes = 32
)

// ErrCorrupt reports encoded features that cannot be decoded.
var ErrCorrupt = errors.New("feature: corrupt encoding")

// MarshalBinary encodes the set: "OCF", version byte, width, height and count
// as uvarints, then per feature x, y, angle, response (float32 LE), octave
// (byte), scale (float32 LE) and the descriptor (32 bytes LE).
func (s *Set) MarshalBinary() ([]byte, error) {
	if len(s.Keypoints) != len(s.Descriptors) {
		return nil, fmt.Errorf("feature: %d keypoints but %d descriptors", len(s.Keypoints), len(s.Descriptors))
	}
	buf := make([]byte, 0, 4+3*binary.MaxVarintLen64+len(s.Keypoints)*(kpBytes+dsBytes))
	buf = append(buf, magic...)
	buf = append(buf, version)
	buf = binary.AppendUvarint(buf, uint64(s.Width))
	buf = binary.AppendUvarint(buf, uint64(s.Height))
	buf = binary.AppendUvarint(buf, uint64(len(s.Keypoints)))
	for i, k := range s.Keypoints {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(k.X))
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(k.Y))
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(k.Angle))
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(k.Response))
		buf = append(buf, k.Octave)
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(k.Scale))
		d := &s.Descriptors[i]
		for _, w := range d {
			buf = binary.LittleEndian.AppendUint64(buf, w)
		}
	}
	return buf, nil
}

// UnmarshalBinary decodes what MarshalBinary produced.
func (s *Set) UnmarshalBinary(data []byte) error {
	if len(data) < 4 || string(data[:3]) != magic {
		return fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if data[3] != version {
		return fmt.Errorf("%w: unsupported version %d", ErrCorrupt, data[3])
	}
	p := data[4:]
	var vals [3]uint64
	for i := range vals {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return fmt.Errorf("%w: bad header", ErrCorrupt)
		}
		vals[i] = v
		p = p[n:]
	}
	w, h, n := vals[0], vals[1], vals[2]
	if w > 1<<20 || h > 1<<20 || n > uint64(len(p))/(kpBytes+dsBytes) || uint64(len(p)) != n*(kpBytes+dsBytes) {
		return fmt.Errorf("%w: size mismatch", ErrCorrupt)
	}
	s.Width, s.Height = int(w), int(h)
	s.Keypoints = make([]Keypoint, n)
	s.Descriptors = make([]Descriptor, n)
	f32 := func() float32 {
		v := math.Float32frombits(binary.LittleEndian.Uint32(p))
		p = p[4:]
		return v
	}
	for i := range s.Keypoints {
		k := &s.Keypoints[i]
		k.X, k.Y, k.Angle, k.Response = f32(), f32(), f32(), f32()
		k.Octave = p[0]
		p = p[1:]
		k.Scale = f32()
		for j := range s.Descriptors[i] {
			s.Descriptors[i][j] = binary.LittleEndian.Uint64(p)
			p = p[8:]
		}
	}
	return nil
}
