package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/opencrs/opencrs/internal/feature"
)

// ErrCorrupt reports stored target bytes that cannot be decoded.
var ErrCorrupt = errors.New("engine: corrupt target encoding")

const (
	targetMagic   = "OCT"
	targetVersion = 1
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
}

// MarshalBinary encodes a prepared target: "OCT", version, the grade fields
// as signed varints, then the feature set's own encoding.
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
	return append(b, fb...), nil
}

// UnmarshalBinary decodes what MarshalBinary produced.
func (t *Target) UnmarshalBinary(b []byte) error {
	if len(b) < 4 || string(b[:3]) != targetMagic {
		return fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if b[3] != targetVersion {
		return fmt.Errorf("%w: unsupported version %d", ErrCorrupt, b[3])
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
	fs := new(feature.Set)
	if err := fs.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	t.Features, t.Grade = fs, g
	return nil
}
