package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"

	"github.com/opencrs/opencrs/internal/feature"
)

// ErrCorrupt reports stored target bytes that cannot be decoded.
var ErrCorrupt = errors.New("engine: corrupt target encoding")

const (
	targetMagic   = "OCT"
	targetVersion = 2
	gradeFields   = 9
)

func (g *Grade) fields() [gradeFields]*int {
	return [gradeFields]*int{&g.Detection, &g.Tracking, &g.DetectionDistinctiveness, &g.DetectionFeatureCount,
		&g.TrackingDistinctiveness, &g.TrackingFeatureCount, &g.TrackingFeatureDistribution,
		&g.TrackingPatchContrast, &g.TrackingPatchAmbiguity}
}

// Target is the prepared, storable form of a target image: its features and
// its grades. Produce it with Engine.Prepare, persist it with MarshalBinary.
type Target struct {
	Features *feature.Set
	Grade    Grade
	// Thumb is the target reduced to thumbSide for photometric
	// verification; nil for targets stored before version 2.
	Thumb *image.Gray
}

// MarshalBinary encodes a prepared target: "OCT", version, the grade fields
// as signed varints, the thumbnail (width and height as uvarints, then its
// pixels row by row; 0x0 when absent), then the feature set's own encoding.
func (t *Target) MarshalBinary() ([]byte, error) {
	if t.Features == nil {
		return nil, errors.New("engine: target without features")
	}
	fb, err := t.Features.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	b := make([]byte, 0, 4+gradeFields*2+len(fb))
	b = append(b, targetMagic...)
	b = append(b, targetVersion)
	for _, f := range t.Grade.fields() {
		b = binary.AppendVarint(b, int64(*f))
	}
	b = appendThumb(b, t.Thumb)
	return append(b, fb...), nil
}

// appendThumb encodes a thumbnail: width and height as uvarints, then its
// pixels row by row; 0x0 when absent.
func appendThumb(b []byte, th *image.Gray) []byte {
	if th == nil {
		return append(b, 0, 0)
	}
	w, h := th.Rect.Dx(), th.Rect.Dy()
	b = binary.AppendUvarint(b, uint64(w))
	b = binary.AppendUvarint(b, uint64(h))
	for y := 0; y < h; y++ {
		o := th.PixOffset(th.Rect.Min.X, th.Rect.Min.Y+y)
		b = append(b, th.Pix[o:o+w]...)
	}
	return b
}

// UnmarshalBinary decodes what MarshalBinary produced.
func (t *Target) UnmarshalBinary(b []byte) error {
	if len(b) < 4 || string(b[:3]) != targetMagic {
		return fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	ver := b[3]
	if ver != 1 && ver != targetVersion {
		return fmt.Errorf("%w: unsupported version %d", ErrCorrupt, ver)
	}
	b = b[4:]
	var g Grade
	for _, f := range g.fields() {
		v, n := binary.Varint(b)
		if n <= 0 || v < -1 || v > 4 {
			return fmt.Errorf("%w: bad grade", ErrCorrupt)
		}
		*f = int(v)
		b = b[n:]
	}
	var thumb *image.Gray
	if ver >= 2 {
		w, n1 := binary.Uvarint(b)
		if n1 <= 0 {
			return fmt.Errorf("%w: bad thumbnail", ErrCorrupt)
		}
		h, n2 := binary.Uvarint(b[n1:])
		if n2 <= 0 || w > 4*thumbSide || h > 4*thumbSide || uint64(len(b)-n1-n2) < w*h {
			return fmt.Errorf("%w: bad thumbnail", ErrCorrupt)
		}
		b = b[n1+n2:]
		if w > 0 && h > 0 {
			thumb = image.NewGray(image.Rect(0, 0, int(w), int(h)))
			copy(thumb.Pix, b[:w*h])
		}
		b = b[w*h:]
	}
	fs := new(feature.Set)
	if err := fs.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	t.Features, t.Grade, t.Thumb = fs, g, thumb
	return nil
}
