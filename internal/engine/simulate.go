package engine

import "fmt"

// AddSimulated indexes t under id for capacity simulations: its
// descriptors go into the vote index like any target's, but when it is a
// candidate, verification runs against the features of the already added
// target like. A simulated database of a million targets then needs the
// index in RAM (what is being measured) without a feature file of 100 GB;
// verifying a distractor against another real target's features costs what
// verifying it against its own would. Never use it for real targets.
func (e *Engine) AddSimulated(id string, t *Target, like string) error {
	if t == nil || t.Features == nil || len(t.Features.Descriptors) != len(t.Features.Keypoints) {
		return fmt.Errorf("engine: add simulated %q: malformed target", id)
	}
	e.mu.RLock()
	base, ok := e.byID[like]
	e.mu.RUnlock()
	if !ok {
		return fmt.Errorf("engine: add simulated %q: %w: %q", id, ErrNotFound, like)
	}
	var qz quantised
	e.lookup(t.Features.Descriptors, &qz)
	en := &entry{id: id, mem: base.mem, ref: base.ref, active: true}
	vf := e.voteFeatures(t.Features, qz.words)
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.byID[id]; ok {
		e.removeLocked(old)
	}
	e.place(en)
	if err := e.indexAdd(en, vf, qz.words); err != nil {
		e.removeLocked(en)
		return fmt.Errorf("engine: add simulated %q: %w", id, err)
	}
	return nil
}
