package feature

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

func randomSet(r *rand.Rand, n int) *Set {
	s := &Set{Width: 640, Height: 480}
	for i := 0; i < n; i++ {
		s.Keypoints = append(s.Keypoints, Keypoint{
			X: r.Float32() * 640, Y: r.Float32() * 480, Angle: r.Float32() * 6.28,
			Response: r.Float32(), Octave: uint8(r.IntN(8)), Scale: r.Float32(),
		})
		s.Descriptors = append(s.Descriptors, Descriptor{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()})
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 500} {
		in := randomSet(r, n)
		b, err := in.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var out Set
		if err := out.UnmarshalBinary(b); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if n == 0 {
			in.Keypoints, in.Descriptors = []Keypoint{}, []Descriptor{}
		}
		if !reflect.DeepEqual(in, &out) {
			t.Fatalf("n=%d: round trip differs", n)
		}
	}
}

func TestUnmarshalCorrupt(t *testing.T) {
	good, _ := randomSet(rand.New(rand.NewPCG(3, 4)), 3).MarshalBinary()
	bad := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XXX"), good[3:]...),
		"version":   append([]byte("OCF\x09"), good[4:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
	}
	for name, b := range bad {
		var s Set
		if err := s.UnmarshalBinary(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestDistance(t *testing.T) {
	a := Descriptor{0, 0, 0, 0}
	b := Descriptor{1, 3, 0, ^uint64(0)}
	if got := Distance(&a, &b); got != 67 {
		t.Fatalf("Distance = %d, want 67", got)
	}
}
