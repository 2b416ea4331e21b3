package blobfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestAppendReadReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.blob")
	f, err := Open(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	recs := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte{7}, 100000), []byte("last")}
	refs := make([]Ref, len(recs))
	for i, r := range recs {
		if refs[i], err = f.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range refs {
		got, err := f.Read(r, nil)
		if err != nil || !bytes.Equal(got, recs[i]) {
			t.Fatalf("record %d: %v, %d bytes", i, err, len(got))
		}
	}
	size := f.Size()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen cut after the third record: the fourth is gone, the rest read.
	f, err = Open(path, refs[3].Off())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Size() != refs[3].Off() || f.Size() >= size {
		t.Fatalf("size %d after truncation to %d", f.Size(), refs[3].Off())
	}
	if got, err := f.Read(refs[2], nil); err != nil || len(got) != 100000 {
		t.Fatalf("after reopen: %v", err)
	}
	if _, err := f.Read(refs[3], nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read past the end: %v, want ErrCorrupt", err)
	}
}

func TestCorruptionDetected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.blob")
	f, err := Open(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := f.Append([]byte("hello world"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	raw[headerLen+3] ^= 1
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(r, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flipped bit: %v, want ErrCorrupt", err)
	}
	if _, err := f.Read(Ref(3), nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad ref: %v, want ErrCorrupt", err)
	}
}

func TestConcurrentAppendRead(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "f.blob"), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first, _ := f.Append([]byte("first"))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 64)
			for i := range 200 {
				p := []byte{byte(w), byte(i)}
				r, err := f.Append(p)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := f.Read(r, buf)
				if err != nil || !bytes.Equal(got, p) {
					t.Errorf("read back %v: %v", got, err)
					return
				}
				if got, err := f.Read(first, buf); err != nil || string(got) != "first" {
					t.Errorf("first record: %q %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
