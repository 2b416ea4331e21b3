//go:build goexperiment.simd && amd64

package vision

import "testing"

func TestArcs9MatchesHasArc9(t *testing.T) {
	r := rng(9)
	for range 2000 {
		// 32 random circle masks, biased towards long runs so both answers
		// are common.
		var masks [32]uint32
		for i := range masks {
			m := uint32(r.next())
			if r.next()&1 == 0 {
				start, n := r.next()%16, 7+r.next()%4
				m = 0
				for k := range n {
					m |= 1 << ((start + k) % 16)
				}
			}
			masks[i] = m & 0xffff
		}
		var sliced [16]uint32
		for lane, m := range masks {
			for k := range 16 {
				sliced[k] |= (m >> k & 1) << lane
			}
		}
		got := arcs9(&sliced)
		for lane, m := range masks {
			if want := hasArc9(m); (got>>lane&1 == 1) != want {
				t.Fatalf("mask %#04x: arcs9 says %v, hasArc9 %v", m, !want, want)
			}
		}
	}
}
