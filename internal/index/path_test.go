package index

import (
	"math/rand/v2"
	"testing"

	"github.com/opencrs/opencrs/internal/feature"
)

func TestLookupLevelsAgreesWithLookupPath(t *testing.T) {
	v, err := DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	nodes := make([]uint32, 3)
	for range 200 {
		d := feature.Descriptor{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
		w := v.LookupLevels(&d, nodes)
		for l := 1; l <= 3; l++ {
			w2, n := v.LookupPath(&d, l)
			if w2 != w || n != nodes[l-1] {
				t.Fatalf("level %d: LookupLevels (%d, %d), LookupPath (%d, %d)", l, w, nodes[l-1], w2, n)
			}
		}
	}
}
