package index

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// voteDoc makes n features with random words, signatures and geometry.
func voteDoc(r *rand.Rand, words, n int) []VoteFeature {
	fs := make([]VoteFeature, n)
	for i := range fs {
		fs[i] = VoteFeature{Word: uint32(r.IntN(words)), Sig: Signature{r.Uint64(), r.Uint64()}, Angle: uint8(r.IntN(AngleBins)), Octave: uint8(r.IntN(8))}
	}
	return fs
}

// viewOf turns some of a document's features into a query seen rotated by
// rot angle bins and one octave smaller, with a few signature bits flipped,
// plus clutter.
func viewOf(r *rand.Rand, doc []VoteFeature, keep, clutter, words int, rot uint8) []VoteQuery {
	var q []VoteQuery
	for _, f := range doc[:keep] {
		sig := f.Sig
		sig[0] ^= 1 << uint(r.IntN(64))
		sig[1] ^= 1 << uint(r.IntN(64))
		q = append(q, VoteQuery{Words: []uint32{uint32(r.IntN(words)), f.Word}, Sig: sig,
			Angle: (f.Angle + rot) % AngleBins, Octave: f.Octave + 1})
	}
	for range clutter {
		q = append(q, VoteQuery{Words: []uint32{uint32(r.IntN(words))}, Sig: Signature{r.Uint64(), r.Uint64()}, Angle: uint8(r.IntN(AngleBins)), Octave: uint8(r.IntN(8))})
	}
	return q
}

func TestVoteIndexFindsSmallView(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sigBits  int
		maxHam   int
		shuffled bool // documents added out of id order
	}{
		{"128-bit", 128, 20, false},
		{"64-bit", 64, 10, false},
		{"128-bit shuffled", 128, 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) { testFindsSmallView(t, tc.sigBits, tc.maxHam, tc.shuffled) })
	}
}

func testFindsSmallView(t *testing.T, sigBits, maxHam int, shuffled bool) {
	const words = 5000
	r := rand.New(rand.NewPCG(1, 2))
	ix := NewVoteIndex(words, sigBits)
	docs := make([][]VoteFeature, 300)
	for d := range docs {
		docs[d] = voteDoc(r, words, 500)
	}
	order := r.Perm(len(docs))
	for i := range order {
		d := i
		if shuffled {
			d = order[i]
		}
		if err := ix.Add(uint32(d), 0, docs[d]); err != nil {
			t.Fatal(err)
		}
	}
	// 25 true matches among 1000 clutter descriptors.
	q := viewOf(r, docs[123], 25, 1000, words, 5)
	got := ix.Query(q, VoteOptions{MaxHamming: maxHam, MinVotes: 2, N: 5}, nil)
	if len(got) == 0 || got[0].Doc != 123 {
		t.Fatalf("top candidates %v, want doc 123 first", got)
	}
	if got[0].Score < 10 {
		t.Fatalf("true document scored %.1f votes", got[0].Score)
	}
	// Pure clutter reaches nothing above a handful of votes.
	noise := viewOf(r, docs[0], 0, 1000, words, 0)
	for _, c := range ix.Query(noise, VoteOptions{MaxHamming: maxHam, MinVotes: 2, N: 5}, nil) {
		if c.Score >= 6 {
			t.Fatalf("clutter gave doc %d %.1f votes", c.Doc, c.Score)
		}
	}
	// Removed documents never come back; re-added ones do.
	if !ix.Remove(123) || ix.Remove(123) {
		t.Fatal("Remove reports wrongly")
	}
	for _, c := range ix.Query(q, VoteOptions{MaxHamming: maxHam, MinVotes: 1, N: 300}, nil) {
		if c.Doc == 123 {
			t.Fatal("removed document returned")
		}
	}
	// Its id is not reusable until compaction has dropped its postings.
	if err := ix.Add(123, 0, docs[123]); !errors.Is(err, ErrDocInUse) {
		t.Fatalf("re-adding an uncompacted id: %v, want ErrDocInUse", err)
	}
	if err := ix.Add(300, 0, docs[123]); err != nil {
		t.Fatal(err)
	}
	if got := ix.Query(q, VoteOptions{MaxHamming: maxHam, MinVotes: 2, N: 1}, nil); len(got) != 1 || got[0].Doc != 300 {
		t.Fatalf("re-added document not found: %v", got)
	}
	before := ix.Postings()
	ix.Compact()
	if got := ix.Postings(); got != before-500 {
		t.Fatalf("compaction left %d postings, want %d", got, before-500)
	}
	if !ix.Reusable(123) || ix.Reusable(300) {
		t.Fatal("Reusable wrong after compaction")
	}
	if got := ix.Query(q, VoteOptions{MaxHamming: maxHam, MinVotes: 2, N: 1}, nil); len(got) != 1 || got[0].Doc != 300 {
		t.Fatalf("after compaction: %v", got)
	}
	if err := ix.Add(123, 0, docs[123]); err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 301 {
		t.Fatalf("Len = %d", ix.Len())
	}
}

// TestVoteIndexBurst checks that one query descriptor matching many
// postings of a repetitive document does not outvote a distinctive match.
func TestVoteIndexBurst(t *testing.T) {
	ix := NewVoteIndex(10, 128)
	var rep []VoteFeature
	for range 200 {
		rep = append(rep, VoteFeature{Word: 1, Angle: 0, Octave: 0})
	}
	ix.Add(0, 0, rep)
	var distinct []VoteFeature
	for i := range 8 {
		distinct = append(distinct, VoteFeature{Word: 2 + uint32(i), Sig: Signature{^uint64(0), ^uint64(0)}, Angle: 3, Octave: 2})
	}
	ix.Add(1, 0, distinct)
	q := []VoteQuery{{Words: []uint32{1}}}
	for i := range 8 {
		q = append(q, VoteQuery{Words: []uint32{2 + uint32(i)}, Sig: Signature{^uint64(0), ^uint64(0)}, Angle: 3, Octave: 2})
	}
	got := ix.Query(q, VoteOptions{MaxHamming: 4, MinVotes: 0, N: 2}, nil)
	if len(got) != 2 || got[0].Doc != 1 {
		t.Fatalf("got %v, want the distinctive document first", got)
	}
}

func TestVoteQueryWeight(t *testing.T) {
	ix := NewVoteIndex(10, 64)
	var doc []VoteFeature
	var q []VoteQuery
	for i := range 8 {
		f := VoteFeature{Word: uint32(i), Sig: Signature{uint64(i) * 0x9e3779b97f4a7c15}, Angle: 3, Octave: 2}
		doc = append(doc, f)
		q = append(q, VoteQuery{Words: []uint32{f.Word}, Sig: f.Sig, Angle: 3, Octave: 2})
	}
	ix.Add(0, 0, doc)
	for _, tc := range []struct {
		weight float32
		want   float32
	}{{0, 8}, {1, 8}, {0.25, 2}} {
		for i := range q {
			q[i].Weight = tc.weight
		}
		got := ix.Query(q, VoteOptions{MaxHamming: 0, MinVotes: 1, N: 1}, nil)
		if len(got) != 1 || got[0].Score != tc.want {
			t.Errorf("weight %v: got %v, want score %v", tc.weight, got, tc.want)
		}
	}
}

func TestVoteIndexConcurrent(t *testing.T) {
	const words = 1000
	r := rand.New(rand.NewPCG(3, 4))
	ix := NewVoteIndex(words, 128)
	docs := make([][]VoteFeature, 50)
	for d := range docs {
		docs[d] = voteDoc(r, words, 200)
		ix.Add(uint32(d), 0, docs[d])
	}
	q := viewOf(r, docs[7], 30, 200, words, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 200 {
			d := uint32(10 + i%40)
			ix.Remove(uint32(len(docs) + i - 1))
			ix.Remove(d)
			if err := ix.Add(uint32(len(docs)+i), 0, docs[d]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 50 {
			if got := ix.Query(q, VoteOptions{MaxHamming: 20, MinVotes: 2, N: 1}, nil); len(got) != 1 || got[0].Doc != 7 {
				t.Errorf("query during writes: %v", got)
				return
			}
		}
	}()
	wg.Wait()
}

func TestVoteIndexRejectsBadWord(t *testing.T) {
	ix := NewVoteIndex(4, 128)
	if err := ix.Add(0, 0, []VoteFeature{{Word: 4}}); err == nil {
		t.Fatal("word out of range accepted")
	}
}

func BenchmarkVoteQuery10k(b *testing.B) {
	const words = 100000
	r := rand.New(rand.NewPCG(5, 6))
	ix := NewVoteIndex(words, 128)
	var d0 []VoteFeature
	for d := range 10000 {
		fs := voteDoc(r, words, 1500)
		if d == 0 {
			d0 = fs
		}
		ix.Add(uint32(d), 0, fs)
	}
	q := viewOf(r, d0, 50, 1950, words, 3)
	for i := range q {
		for len(q[i].Words) < 8 {
			q[i].Words = append(q[i].Words, uint32(r.IntN(words)))
		}
	}
	var out []Candidate
	b.ResetTimer()
	for b.Loop() {
		out = ix.Query(q, VoteOptions{MaxHamming: 20, MinVotes: 2, N: 8}, out)
	}
}

// A parallel scan finds exactly what a serial one does.
func TestVoteIndexParallelScan(t *testing.T) {
	const words = 3000
	r := rand.New(rand.NewPCG(11, 12))
	ix := NewVoteIndex(words, 64)
	docs := make([][]VoteFeature, 200)
	for d := range docs {
		docs[d] = voteDoc(r, words, 400)
		if err := ix.Add(uint32(d), 0, docs[d]); err != nil {
			t.Fatal(err)
		}
	}
	ix.Remove(7) // dead postings must be skipped by every part
	for _, d := range []int{3, 7, 150} {
		q := viewOf(r, docs[d], 40, 900, words, 2)
		want := ix.Query(q, VoteOptions{MaxHamming: 10, MinVotes: 1, N: 20}, nil)
		for _, p := range []int{2, 3, 8} {
			got := ix.Query(q, VoteOptions{MaxHamming: 10, MinVotes: 1, N: 20, Parallel: p}, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("doc %d, %d goroutines: %v, serial %v", d, p, got, want)
			}
		}
	}
}

// TestVoteTranslationCheck: two targets receive votes that agree on the
// change of orientation and scale, but only the true one's also agree on
// where its centre lies in the query. Without the translation check the
// decoy, with more votes, ranks first; with it, the true target does.
func TestVoteTranslationCheck(t *testing.T) {
	const (
		words = 4000
		side  = 640
		rot   = 0.5 // radians, the view's rotation
	)
	r := rand.New(rand.NewPCG(3, 4))
	ix := NewVoteIndex(words, 64)
	// Target keypoints at level 2, seen at query level 0: the scale the
	// levels imply is 1.2^-2 query pixels per target pixel.
	s := 1 / (1.2 * 1.2)
	var trueDoc, decoy []VoteFeature
	var q []VoteQuery
	sin, cos := math.Sincos(rot)
	cx, cy := 300.0, 260.0 // where the true target's centre lands
	for i := range 60 {
		x, y := r.Float64()*side, r.Float64()*side*0.75
		ang := r.Float64() * 2 * math.Pi
		f := VoteFeature{Word: uint32(i), Sig: Signature{r.Uint64()}, Angle: uint8(ang / (2 * math.Pi) * AngleBins), Octave: 2,
			Pos: VotePos(float32(x), float32(y), side, side*3/4)}
		trueDoc = append(trueDoc, f)
		dx, dy := x-side/2, y-side*3/8
		qa := math.Mod((float64(f.Angle)+0.5)*2*math.Pi/AngleBins+rot, 2*math.Pi)
		q = append(q, VoteQuery{Words: []uint32{f.Word}, Sig: f.Sig, Angle: uint8(qa / (2 * math.Pi) * AngleBins), Octave: 0,
			X: float32(cx + s*(cos*dx-sin*dy)), Y: float32(cy + s*(sin*dx+cos*dy)), Theta: float32(qa)})
	}
	// The decoy shares 80 query descriptors with the same rotation and
	// scale, at random places in its image.
	for i := range 80 {
		x, y := r.Float64()*side, r.Float64()*side*0.75
		ang := r.Float64() * 2 * math.Pi
		f := VoteFeature{Word: uint32(1000 + i), Sig: Signature{r.Uint64()}, Angle: uint8(ang / (2 * math.Pi) * AngleBins), Octave: 2,
			Pos: VotePos(float32(x), float32(y), side, side*3/4)}
		decoy = append(decoy, f)
		qa := math.Mod((float64(f.Angle)+0.5)*2*math.Pi/AngleBins+rot, 2*math.Pi)
		q = append(q, VoteQuery{Words: []uint32{f.Word}, Sig: f.Sig, Angle: uint8(qa / (2 * math.Pi) * AngleBins), Octave: 0,
			X: float32(r.Float64() * 640), Y: float32(r.Float64() * 480), Theta: float32(qa)})
	}
	if err := ix.Add(1, side, trueDoc); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(2, side, decoy); err != nil {
		t.Fatal(err)
	}
	opt := VoteOptions{MaxHamming: 10, MinVotes: 2, N: 2}
	plain := ix.Query(q, opt, nil)
	if len(plain) != 2 || plain[0].Doc != 2 {
		t.Fatalf("without the check: %+v, want the decoy (2) first", plain)
	}
	opt.Rescore = 10
	got := ix.Query(q, opt, nil)
	if len(got) == 0 || got[0].Doc != 1 {
		t.Fatalf("with the check: %+v, want the true target (1) first", got)
	}
	t.Logf("plain %+v, checked %+v", plain, got)
	if got[0].Score < 40 {
		t.Errorf("true target keeps %.1f of its 60 votes, want most", got[0].Score)
	}
	if len(got) > 1 && got[1].Score > 30 {
		t.Errorf("decoy keeps %.1f of its 80 votes", got[1].Score)
	}
}

// TestVoteChanceDiscount: a decoy seen at full scale whose votes scatter
// over the frame fills one of its large translation cells by chance as well
// as a small, distant target fills its small cell with agreeing votes; the
// discount for chance (FrameArea) must rank the true target first.
func TestVoteChanceDiscount(t *testing.T) {
	const (
		words = 4000
		side  = 640
		w, h  = 640, 480
	)
	r := rand.New(rand.NewPCG(5, 6))
	// doc makes n features of a target at pyramid level oct and the query
	// descriptors that see them at query level 0, unrotated; centre places
	// the target's centre in the query, or nil to scatter each match over
	// the frame.
	doc := func(word0, n int, oct uint8, centre []float64) ([]VoteFeature, []VoteQuery) {
		s := math.Pow(1.2, -float64(oct))
		var fs []VoteFeature
		var q []VoteQuery
		for i := range n {
			x, y := r.Float64()*side, r.Float64()*side*0.75
			f := VoteFeature{Word: uint32(word0 + i), Sig: Signature{r.Uint64()}, Angle: 3, Octave: oct,
				Pos: VotePos(float32(x), float32(y), side, side*3/4)}
			fs = append(fs, f)
			qx, qy := r.Float64()*w, r.Float64()*h
			if centre != nil {
				qx, qy = centre[0]+s*(x-side/2), centre[1]+s*(y-side*3/8)
			}
			theta := (3 + 0.5) * 2 * math.Pi / AngleBins
			q = append(q, VoteQuery{Words: []uint32{f.Word}, Sig: f.Sig, Angle: 3, Octave: 0, X: float32(qx), Y: float32(qy), Theta: float32(theta)})
		}
		return fs, q
	}
	// The true target: 10 agreeing votes, seen at a third of its size.
	trueDoc, q := doc(0, 10, 6, []float64{400, 300})
	// The decoy: 60 chance votes at full scale.
	decoy, dq := doc(1000, 60, 0, nil)
	q = append(q, dq...)
	ix := NewVoteIndex(words, 64)
	if err := ix.Add(1, side, trueDoc); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(2, side, decoy); err != nil {
		t.Fatal(err)
	}
	opt := VoteOptions{MaxHamming: 10, MinVotes: 1, N: 2, Rescore: 10}
	plain := ix.Query(q, opt, nil)
	if len(plain) != 2 || plain[0].Doc != 2 {
		t.Fatalf("without the discount: %+v, want the decoy (2) first", plain)
	}
	opt.FrameArea = w * h
	got := ix.Query(q, opt, nil)
	t.Logf("plain %+v, discounted %+v", plain, got)
	if len(got) == 0 || got[0].Doc != 1 {
		t.Fatalf("with the discount: %+v, want the true target (1) first", got)
	}
	if got[0].Score < 8 {
		t.Errorf("true target keeps %.1f of its 10 votes, want nearly all", got[0].Score)
	}
}

// TestVoteHammingSigma checks that distance weighting prefers a target
// whose pairs are near over one with more pairs at the radius's edge, and
// that a vote weighs exp(−d²/σ²).
func TestVoteHammingSigma(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	flip := func(s uint64, k int) uint64 {
		for _, b := range r.Perm(64)[:k] {
			s ^= 1 << b
		}
		return s
	}
	// Document 1: 4 pairs at distance 1; document 2: 6 pairs at 10. All
	// agree on orientation and scale.
	var q []VoteQuery
	var near, far []VoteFeature
	for i := range 10 {
		sig := r.Uint64()
		f := VoteFeature{Word: uint32(i), Sig: Signature{flip(sig, 1)}, Angle: 2, Octave: 1}
		if i < 4 {
			near = append(near, f)
		} else {
			f.Sig[0] = flip(sig, 10)
			far = append(far, f)
		}
		q = append(q, VoteQuery{Words: []uint32{uint32(i)}, Sig: Signature{sig}, Angle: 2, Octave: 1})
	}
	ix := NewVoteIndex(16, 64)
	if err := ix.Add(1, 0, near); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(2, 0, far); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sigma   float64
		first   uint32
		near, f float64 // expected scores of documents 1 and 2
	}{
		{0, 2, 4, 6},
		{8, 1, 4 * math.Exp(-1.0/64), 6 * math.Exp(-100.0/64)},
	}
	for _, tc := range tests {
		got := ix.Query(q, VoteOptions{MaxHamming: 10, MinVotes: 0, N: 2, HammingSigma: tc.sigma}, nil)
		if len(got) != 2 || got[0].Doc != tc.first {
			t.Fatalf("sigma %g: %+v, want document %d first", tc.sigma, got, tc.first)
		}
		score := map[uint32]float64{got[0].Doc: float64(got[0].Score), got[1].Doc: float64(got[1].Score)}
		if math.Abs(score[1]-tc.near) > 1e-4 || math.Abs(score[2]-tc.f) > 1e-4 {
			t.Errorf("sigma %g: scores %v, want %.4f and %.4f", tc.sigma, score, tc.near, tc.f)
		}
	}
}
