package engine

import (
	"fmt"

	"github.com/opencrs/opencrs/internal/feature"
)

// AddSimulated indexes t under id for capacity simulations: its
// descriptors go into the vote index like any target's, but when it is a
// candidate, verification runs against the features of the already added
// target like. A simulated database of a million targets then needs the
// index in RAM (what is being measured) without a feature file of 100 GB;
// verifying a distractor against another real target's features costs what
// verifying it against its own would. Never use it for real targets.
//
// words, when not nil, are the vocabulary words of t's descriptors (see
// Words), which spares the lookup when the caller knows them.
func (e *Engine) AddSimulated(id string, t *Target, words []uint32, like string) error {
	if t == nil || t.Features == nil || len(t.Features.Descriptors) != len(t.Features.Keypoints) {
		return fmt.Errorf("engine: add simulated %q: malformed target", id)
	}
	e.mu.RLock()
	base, ok := e.byID[like]
	e.mu.RUnlock()
	if !ok {
		return fmt.Errorf("engine: add simulated %q: %w: %q", id, ErrNotFound, like)
	}
	if words == nil {
		words = e.Words(t.Features)
	} else if len(words) != len(t.Features.Descriptors) {
		return fmt.Errorf("engine: add simulated %q: %d words for %d descriptors", id, len(words), len(t.Features.Descriptors))
	}
	en := &entry{id: id, mem: base.mem, ref: base.ref, active: true}
	vf := e.voteFeatures(t.Features, words)
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.byID[id]; ok {
		e.removeLocked(old)
	}
	e.place(en)
	if err := e.indexAdd(en, vf, words); err != nil {
		e.removeLocked(en)
		return fmt.Errorf("engine: add simulated %q: %w", id, err)
	}
	return nil
}

// Words returns the vocabulary word of each of fs's descriptors.
func (e *Engine) Words(fs *feature.Set) []uint32 {
	var qz quantised
	e.lookup(fs.Descriptors, &qz)
	return qz.words
}
