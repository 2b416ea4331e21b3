package verify

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

// prepareReference is the plain statement of Prepare and PrepareCoarse's
// layout: buckets in increasing id, descriptors in their order within one,
// a parent's span the union of its children's.
func prepareReference(t *feature.Set, buckets, parents []uint32) *Prepared {
	keys := slices.Compact(slices.Sorted(slices.Values(buckets)))
	p := &Prepared{groups: &groups{keys: keys}}
	for _, b := range keys {
		lo := int32(len(p.desc))
		for i, bi := range buckets {
			if bi == b {
				p.desc = append(p.desc, t.Descriptors[i])
				p.index = append(p.index, int32(i))
			}
		}
		p.groups.spans = append(p.groups.spans, span{lo, int32(len(p.desc))})
	}
	if parents == nil {
		return p
	}
	pk := slices.Compact(slices.Sorted(slices.Values(parents)))
	p.coarse = &groups{keys: pk}
	for _, par := range pk {
		sp := span{int32(len(p.desc)), 0}
		for k, b := range keys {
			i := slices.Index(buckets, b)
			if parents[i] == par {
				sp.lo, sp.hi = min(sp.lo, p.groups.spans[k].lo), max(sp.hi, p.groups.spans[k].hi)
			}
		}
		p.coarse.spans = append(p.coarse.spans, sp)
	}
	return p
}

func TestPrepareLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name     string
		n        int
		bucket   func(i int) uint32 // a child id (one level of a 10-ary tree)
		parentOf func(b uint32) uint32
	}{
		{"level 2", 1500, func(int) uint32 { return 11 + uint32(r.IntN(100)) }, func(b uint32) uint32 { return 1 + (b-11)/10 }},
		{"level 4, few used", 300, func(int) uint32 { return 1111 + uint32(r.IntN(10000)) }, func(b uint32) uint32 { return 111 + (b-1111)/10 }},
		{"sparse ids (map)", 500, func(int) uint32 { return uint32(r.IntN(40)) << 20 }, func(b uint32) uint32 { return b >> 22 }},
		{"parents not in children's order", 400, func(int) uint32 { return uint32(r.IntN(30)) }, func(b uint32) uint32 { return 100 - b/3 }},
		{"one bucket", 50, func(int) uint32 { return 7 }, func(uint32) uint32 { return 0 }},
		{"empty", 0, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := &feature.Set{}
			buckets, parents := []uint32{}, []uint32{}
			for i := range tc.n {
				set.Descriptors = append(set.Descriptors, feature.Descriptor{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()})
				b := tc.bucket(i)
				buckets, parents = append(buckets, b), append(parents, tc.parentOf(b))
			}
			set.Keypoints = make([]feature.Keypoint, tc.n)
			got, want := PrepareCoarse(set, buckets, parents), prepareReference(set, buckets, parents)
			if tc.n == 0 {
				if got.Len() != 0 || len(got.groups.keys) != 0 || len(got.coarse.keys) != 0 {
					t.Fatalf("empty: %+v", got)
				}
				return
			}
			if !reflect.DeepEqual(got.groups, want.groups) || !reflect.DeepEqual(got.coarse, want.coarse) ||
				!slices.Equal(got.desc, want.desc) || !slices.Equal(got.index, want.index) {
				t.Fatalf("layout differs:\n got %+v %+v\nwant %+v %+v", got.groups, got.coarse, want.groups, want.coarse)
			}
		})
	}
}

func TestPrepareCoarseRefusesSplitParent(t *testing.T) {
	set := &feature.Set{Descriptors: make([]feature.Descriptor, 3), Keypoints: make([]feature.Keypoint, 3)}
	defer func() {
		if recover() == nil {
			t.Fatal("a parent whose children are not adjacent was accepted")
		}
	}()
	PrepareCoarse(set, []uint32{1, 2, 3}, []uint32{5, 6, 5})
}
