package index

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestVoteIndexRoundTrip(t *testing.T) {
	for _, sigBits := range []int{64, 128} {
		const words = 2000
		r := rand.New(rand.NewPCG(7, uint64(sigBits)))
		ix := NewVoteIndex(words, sigBits)
		docs := make([][]VoteFeature, 60)
		for d := range docs {
			docs[d] = voteDoc(r, words, 300)
			for i := range docs[d] {
				docs[d][i].Pos = uint8(i * 37) // positions and sides must survive too
			}
			if err := ix.Add(uint32(d), 100+d, docs[d]); err != nil {
				t.Fatal(err)
			}
		}
		ix.Remove(5) // dirty: its postings remain and must stay skipped
		var buf bytes.Buffer
		if _, err := ix.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := ReadVoteIndex(bytes.NewReader(buf.Bytes()), words)
		if err != nil {
			t.Fatalf("%d-bit: %v", sigBits, err)
		}
		if got.Len() != ix.Len() || got.Postings() != ix.Postings() || got.SigBits() != sigBits {
			t.Fatalf("%d-bit: read %d docs %d postings, wrote %d %d", sigBits, got.Len(), got.Postings(), ix.Len(), ix.Postings())
		}
		maxHam := sigBits / 7
		for _, d := range []int{0, 5, 17, 59} {
			q := viewOf(r, docs[d], 40, 200, words, 3)
			for i := range q {
				q[i].X, q[i].Y = float32(i%17)*20, float32(i%13)*20
			}
			opt := VoteOptions{MaxHamming: maxHam, MinVotes: 2, N: 5, Rescore: 20}
			a, b := ix.Query(q, opt, nil), got.Query(q, opt, nil)
			if len(a) == 0 && d != 5 {
				t.Fatalf("%d-bit doc %d: nothing found", sigBits, d)
			}
			if !slices.Equal(a, b) {
				t.Fatalf("%d-bit doc %d: query after reading %v, before %v", sigBits, d, b, a)
			}
			if d == 5 && len(b) > 0 && b[0].Doc == 5 {
				t.Fatal("removed document returned after reading")
			}
		}
		// The read index takes new documents and compacts.
		if err := got.Add(60, 0, docs[1]); err != nil {
			t.Fatal(err)
		}
		got.Compact()
		if !got.Reusable(5) {
			t.Fatal("removed document not compacted after reading")
		}
	}
}

func TestReadVoteIndexRejectsDamage(t *testing.T) {
	const words = 500
	r := rand.New(rand.NewPCG(8, 9))
	ix := NewVoteIndex(words, 64)
	for d := range 10 {
		ix.Add(uint32(d), 0, voteDoc(r, words, 100))
	}
	var buf bytes.Buffer
	ix.WriteTo(&buf)
	good := buf.Bytes()
	cases := map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)/2],
		"bit flip":  flipByte(good, len(good)/2),
		"magic":     flipByte(good, 0),
	}
	for name, b := range cases {
		if _, err := ReadVoteIndex(bytes.NewReader(b), words); !errors.Is(err, ErrVoteCorrupt) {
			t.Errorf("%s: %v, want ErrVoteCorrupt", name, err)
		}
	}
	if _, err := ReadVoteIndex(bytes.NewReader(good), words+1); !errors.Is(err, ErrVoteCorrupt) {
		t.Errorf("other vocabulary: %v, want ErrVoteCorrupt", err)
	}
}

func flipByte(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x10
	return c
}
