package synth

import (
	"context"
	"errors"
	"os"
	"testing"
)

func TestWriteDistractorsErrors(t *testing.T) {
	pool, err := OpenPool(writePool(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := WriteDistractors(context.Background(), pool, WriteOptions{Dir: out, N: 1, Format: "gif"}); err == nil {
		t.Error("format gif accepted")
	}
	if _, err := WriteDistractors(context.Background(), pool, WriteOptions{Dir: out, N: -1}); err == nil {
		t.Error("negative count accepted")
	}
	// Cancelled before it starts: nothing written, not even a partial file.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum, err := WriteDistractors(ctx, pool, WriteOptions{Dir: out, N: 4})
	if !errors.Is(err, context.Canceled) || sum.Written != 0 {
		t.Errorf("cancelled: %+v, %v", sum, err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("cancelled run left %d files", len(ents))
	}
	if got := DistractorName(123, "jpeg") + " " + DistractorName(1234567, "png"); got != "d000123.jpg d1234567.png" {
		t.Errorf("names: %s", got)
	}
}
