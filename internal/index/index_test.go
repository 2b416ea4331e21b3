package index

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
)

const testWords = 5000

// randomDoc draws n words from a Zipf-like distribution over words, the shape
// of real visual-word histograms (a few very common words, a long tail).
func randomDoc(z *rand.Zipf, n int) []uint32 {
	ws := make([]uint32, n)
	for i := range ws {
		ws[i] = uint32(z.Uint64())
	}
	return ws
}

func zipf(seed uint64, words int) *rand.Zipf {
	return rand.NewZipf(rand.New(rand.NewPCG(seed, 3)), 1.1, 10, uint64(words-1))
}

func buildIndex(t testing.TB, opts Options, docs, perDoc int) (*Index, [][]uint32) {
	t.Helper()
	ix := New(testWords, opts)
	z := zipf(1, testWords)
	all := make([][]uint32, docs)
	for d := range all {
		all[d] = randomDoc(z, perDoc)
		if err := ix.Add(uint32(d), all[d]); err != nil {
			t.Fatal(err)
		}
	}
	return ix, all
}

var scorings = []struct {
	name string
	opts Options
}{
	{"L1", Options{Scoring: L1}},
	{"L2", Options{Scoring: L2}},
	{"L1 no stop words", Options{Scoring: L1, StopFraction: 1}},
}

func TestQuerySelfRanksFirst(t *testing.T) {
	for _, sc := range scorings {
		t.Run(sc.name, func(t *testing.T) {
			ix, docs := buildIndex(t, sc.opts, 2000, 300)
			r := rand.New(rand.NewPCG(4, 4))
			var out []Candidate
			for _, d := range []int{0, 1, 17, 999, 1999} {
				// The query sees only part of the document, plus clutter.
				q := slices.Clone(docs[d][:200])
				for range 100 {
					q = append(q, uint32(r.IntN(testWords)))
				}
				out = ix.Query(q, 5, out)
				if len(out) == 0 || out[0].Doc != uint32(d) {
					t.Fatalf("doc %d: got %v", d, out)
				}
				if len(out) > 1 && out[1].Score >= out[0].Score {
					t.Fatalf("doc %d: no margin: %v", d, out)
				}
			}
		})
	}
}

// referenceScores computes every document's score from scratch, the
// specification Query is checked against.
func referenceScores(ix *Index, docs map[uint32][]uint32, q []uint32) map[uint32]float64 {
	n := len(docs)
	df := map[uint32]int{}
	tfs := map[uint32]map[uint32]int{}
	for d, ws := range docs {
		tfs[d] = map[uint32]int{}
		for _, w := range ws {
			if tfs[d][w] == 0 {
				df[w]++
			}
			tfs[d][w]++
		}
	}
	idf := func(w uint32) float64 {
		if df[w] == 0 {
			return 0
		}
		return math.Log(float64(n+1) / float64(df[w]))
	}
	stop := max(ix.opts.StopMinDF, int(ix.opts.StopFraction*float64(n)))
	if ix.opts.StopFraction >= 1 {
		stop = math.MaxInt
	}
	qtf := map[uint32]int{}
	for _, w := range q {
		if df[w] > 0 && df[w] <= stop {
			qtf[w]++
		}
	}
	vec := func(tf map[uint32]int) map[uint32]float64 {
		v, norm := map[uint32]float64{}, 0.0
		for w, c := range tf {
			x := float64(c) * idf(w)
			v[w] = x
			if ix.opts.Scoring == L2 {
				norm += x * x
			} else {
				norm += x
			}
		}
		if ix.opts.Scoring == L2 {
			norm = math.Sqrt(norm)
		}
		for w := range v {
			v[w] /= norm
		}
		return v
	}
	qv := vec(qtf)
	scores := map[uint32]float64{}
	for d, tf := range tfs {
		dv := vec(tf)
		s := 0.0
		for w, x := range qv {
			if ix.opts.Scoring == L2 {
				s += x * dv[w]
			} else {
				s += min(x, dv[w])
			}
		}
		if s > 0 {
			scores[d] = s
		}
	}
	return scores
}

func TestQueryMatchesReference(t *testing.T) {
	for _, sc := range scorings {
		t.Run(sc.name, func(t *testing.T) {
			ix, all := buildIndex(t, sc.opts, 300, 200)
			docs := map[uint32][]uint32{}
			for d, ws := range all {
				docs[uint32(d)] = ws
			}
			// Remove some, so the generation-checked path is exercised too.
			for d := 0; d < 300; d += 7 {
				ix.Remove(uint32(d))
				delete(docs, uint32(d))
			}
			ix.Reweight()
			z := zipf(9, testWords)
			var out []Candidate
			for range 20 {
				q := randomDoc(z, 150)
				want := referenceScores(ix, docs, q)
				out = ix.Query(q, 10, out)
				if len(out) != min(10, len(want)) {
					t.Fatalf("got %d candidates, want %d", len(out), min(10, len(want)))
				}
				for i, c := range out {
					ref, ok := want[c.Doc]
					if !ok || math.Abs(ref-float64(c.Score)) > 1e-4 {
						t.Fatalf("candidate %d: doc %d score %g, reference %g (present %v)", i, c.Doc, c.Score, ref, ok)
					}
				}
				// Nothing better was left out.
				var refs []float64
				for _, s := range want {
					refs = append(refs, s)
				}
				slices.Sort(refs)
				slices.Reverse(refs)
				if last := out[len(out)-1].Score; float64(last) < refs[len(out)-1]-1e-4 {
					t.Fatalf("top-%d cut at %g, reference has %g", len(out), last, refs[len(out)-1])
				}
			}
		})
	}
}

func TestRemove(t *testing.T) {
	ix, docs := buildIndex(t, Options{}, 500, 200)
	var out []Candidate
	for d := 0; d < 500; d += 3 {
		if !ix.Remove(uint32(d)) {
			t.Fatalf("Remove(%d) = false", d)
		}
		if ix.Remove(uint32(d)) {
			t.Fatalf("second Remove(%d) = true", d)
		}
	}
	if got, want := ix.Len(), 500-167; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	for d := range 500 {
		out = ix.Query(docs[d], 500, out)
		for _, c := range out {
			if c.Doc%3 == 0 {
				t.Fatalf("removed doc %d returned", c.Doc)
			}
		}
		if d%3 != 0 && out[0].Doc != uint32(d) {
			t.Fatalf("doc %d: top is %d", d, out[0].Doc)
		}
	}
	// Sweeping keeps dead postings to about an eighth; Reweight clears them.
	if st := ix.Stats(); st.DeadPostings*8 > st.Postings+sweepBudget {
		t.Fatalf("dead postings not swept: %+v", st)
	}
	ix.Reweight()
	if st := ix.Stats(); st.DeadPostings != 0 {
		t.Fatalf("after Reweight: %+v", st)
	}
}

func TestReaddAfterRemove(t *testing.T) {
	ix, docs := buildIndex(t, Options{}, 200, 100)
	// Re-adding an id with different words must not resurrect its old
	// postings, whether or not they were swept.
	ix.Remove(5)
	if err := ix.Add(5, docs[6]); err != nil {
		t.Fatal(err)
	}
	// Before sweeping the old postings are still in the lists; the
	// generation check must ignore them.
	if st := ix.Stats(); st.DeadPostings == 0 {
		t.Fatal("test needs unswept dead postings")
	}
	scores := map[uint32]float32{}
	for _, c := range ix.Query(docs[5], 200, nil) {
		scores[c.Doc] = c.Score
	}
	if math.Abs(float64(scores[5]-scores[6])) > 0.05*float64(scores[6]) {
		t.Fatalf("unswept: doc 5 scores %g, its twin doc 6 %g", scores[5], scores[6])
	}
	ix.Reweight()
	// Doc 5 now has exactly doc 6's words, so it must score exactly as 6.
	clear(scores)
	for _, c := range ix.Query(docs[5], 200, nil) {
		scores[c.Doc] = c.Score
	}
	if scores[5] != scores[6] {
		t.Fatalf("doc 5 scores %g, its twin doc 6 %g", scores[5], scores[6])
	}
	// Replacing in place (Add on a live id) behaves the same.
	if err := ix.Add(7, docs[8]); err != nil {
		t.Fatal(err)
	}
	if out := ix.Query(docs[7], 1, nil); out[0].Doc == 7 {
		t.Fatal("replaced doc 7 still matches its old words first")
	}
	if st := ix.Stats(); st.Docs != 200 {
		t.Fatalf("Docs = %d, want 200", st.Docs)
	}
}

func TestGenerationWrap(t *testing.T) {
	ix := New(10, Options{})
	if err := ix.Add(1, []uint32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(2, []uint32{4, 5}); err != nil {
		t.Fatal(err)
	}
	// Cycle doc 1 through every generation; the wrap forces a full sweep.
	for range math.MaxUint16 + 1 {
		ix.Remove(1)
		ix.Add(1, []uint32{7})
	}
	if out := ix.Query([]uint32{1, 2, 3}, 5, nil); len(out) != 0 {
		t.Fatalf("stale postings match: %v", out)
	}
}

func TestAddErrors(t *testing.T) {
	ix := New(100, Options{})
	if err := ix.Add(1, []uint32{1, 100}); !errors.Is(err, ErrWord) {
		t.Fatalf("err = %v, want ErrWord", err)
	}
	if err := ix.Add(MaxDoc+1, []uint32{1}); err == nil {
		t.Fatal("accepted a huge doc id")
	}
	if ix.Len() != 0 {
		t.Fatal("failed Add left a document")
	}
	if out := ix.Query([]uint32{1, 5000}, 3, nil); len(out) != 0 {
		t.Fatalf("empty index returned %v", out)
	}
}

func TestStopWords(t *testing.T) {
	ix := New(10, Options{StopFraction: 0.5, StopMinDF: 1})
	for d := range 10 {
		ws := []uint32{0} // in every document: a stop word
		if d == 3 {
			ws = append(ws, 1)
		}
		ix.Add(uint32(d), ws)
	}
	if out := ix.Query([]uint32{0}, 10, nil); len(out) != 0 {
		t.Fatalf("stop word matched: %v", out)
	}
	if out := ix.Query([]uint32{0, 1}, 10, nil); len(out) != 1 || out[0].Doc != 3 {
		t.Fatalf("got %v, want only doc 3", out)
	}
}

func TestConcurrentAddRemoveQuery(t *testing.T) {
	ix, docs := buildIndex(t, Options{}, 300, 100)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 300 {
				d := uint32(300 + w*1000 + i)
				if err := ix.Add(d, docs[i]); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					ix.Remove(d)
				}
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			var out []Candidate
			for i := range 300 {
				out = ix.Query(docs[i], 5, out)
				if len(out) == 0 {
					t.Error("no candidates")
					return
				}
			}
			_ = ix.Stats()
		})
	}
	wg.Go(func() {
		for range 3 {
			var b bytes.Buffer
			if _, err := ix.WriteTo(&b); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if got, want := ix.Len(), 300+2*150; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
}

func TestIndexRoundTrip(t *testing.T) {
	ix, docs := buildIndex(t, Options{}, 400, 150)
	for d := 0; d < 400; d += 5 {
		ix.Remove(uint32(d))
	}
	ix.Add(1000, docs[0]) // sparse id
	ix.Reweight()
	var b bytes.Buffer
	n, err := ix.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, b.Len())
	}
	enc := bytes.Clone(b.Bytes())
	got := New(testWords, Options{})
	if m, err := got.ReadFrom(&b); err != nil || m != n {
		t.Fatalf("ReadFrom = %d, %v; want %d", m, err, n)
	}
	if a, b := ix.Stats(), got.Stats(); a.Docs != b.Docs || a.Postings-a.DeadPostings != b.Postings {
		t.Fatalf("stats differ: %+v vs %+v", a, b)
	}
	for d := range 400 {
		a := ix.Query(docs[d], 5, nil)
		b := got.Query(docs[d], 5, nil)
		if len(a) != len(b) {
			t.Fatalf("query %d: %v vs %v", d, a, b)
		}
		for i := range a {
			if a[i].Doc != b[i].Doc || math.Abs(float64(a[i].Score-b[i].Score)) > 1e-5 {
				t.Fatalf("query %d: %v vs %v", d, a, b)
			}
		}
	}

	corrupt := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", enc[:len(enc)/2]},
		{"no terminator", enc[:len(enc)-8]},
		{"bad magic", flip(enc, 1)},
		{"bad version", flip(enc, 5)},
		{"flipped payload bit", flip(enc, len(enc)/3)},
		{"huge frame", flip(enc, 16+3)},
	}
	for _, tc := range corrupt {
		t.Run(tc.name, func(t *testing.T) {
			dst := New(testWords, Options{})
			dst.Add(1, []uint32{1, 2})
			if _, err := dst.ReadFrom(bytes.NewReader(tc.data)); err == nil {
				t.Fatal("decoded a corrupt index")
			}
			if !dst.Contains(1) || dst.Len() != 1 {
				t.Fatal("failed ReadFrom changed the index")
			}
		})
	}
	if _, err := New(10, Options{}).ReadFrom(bytes.NewReader(enc)); err == nil {
		t.Fatal("loaded a snapshot for another vocabulary size")
	}
}

// benchWords is the vocabulary size of the benchmarks: that of a 10×5 tree.
const benchWords = 100_000

func benchIndex(b *testing.B, docs int) (*Index, *rand.Zipf) {
	ix := New(benchWords, Options{})
	z := zipf(1, benchWords)
	words := make([]uint32, 500)
	for d := range docs {
		for i := range words {
			words[i] = uint32(z.Uint64())
		}
		if err := ix.Add(uint32(d), words); err != nil {
			b.Fatal(err)
		}
	}
	ix.Reweight()
	return ix, z
}

func BenchmarkQuery(b *testing.B) {
	for _, docs := range []int{10_000, 100_000} {
		b.Run(fmtDocs(docs), func(b *testing.B) {
			ix, z := benchIndex(b, docs)
			// 500-word queries from the same distribution.
			qs := make([][]uint32, 64)
			for i := range qs {
				qs[i] = randomDoc(z, 500)
			}
			out := make([]Candidate, 0, 100)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				out = ix.Query(qs[i%len(qs)], 100, out)
			}
			st := ix.Stats()
			b.ReportMetric(float64(st.Bytes)/float64(st.Docs), "index-B/doc")
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	ix, z := benchIndex(b, 10_000)
	words := randomDoc(z, 500)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Ids beyond the auto-reweight size, so the loop measures Add alone.
		if err := ix.Add(uint32(20_000+i), words); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFrom(b *testing.B) {
	ix, _ := benchIndex(b, 10_000)
	var buf bytes.Buffer
	if _, err := ix.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	dst := New(benchWords, Options{})
	b.ResetTimer()
	for b.Loop() {
		if _, err := dst.ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/10_000, "file-B/doc")
}

func fmtDocs(n int) string {
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k-docs"
	}
	return strconv.Itoa(n) + "-docs"
}
