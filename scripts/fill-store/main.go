// Command fill-store fills a serve data directory's store with the prepared distractors
// of a distractor cache (features as extracted; the tracking image is the
// 64 px thumbnail), to measure a service holding 100k targets without
// extracting 100k images again (docs/CAPACITY.md). The data directory must
// hold one database: start `opencrs serve --data DIR` once and stop it.
//
//	go run ./scripts/fill-store -data DIR -cache .cache/dcache -n 100000
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"time"

	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/store"
)

func main() {
	data := flag.String("data", "", "serve data directory (required)")
	cache := flag.String("cache", ".cache/dcache", "")
	n := flag.Int("n", 100000, "")
	flag.Parse()
	if *data == "" {
		fmt.Fprintln(os.Stderr, "fill-store: -data is required")
		os.Exit(2)
	}
	ctx := context.Background()
	st, err := store.OpenBolt(filepath.Join(*data, "opencrs.db"), store.BoltOptions{NoSync: true, Timeout: time.Second})
	if err != nil {
		panic(err)
	}
	apps, err := st.Apps(ctx)
	if err != nil || len(apps) != 1 {
		fmt.Fprintf(os.Stderr, "fill-store: want a store with one database, have %d (%v)\n", len(apps), err)
		os.Exit(1)
	}
	app := apps[0].ID
	start := time.Now()
	added := 0
	for i := 0; i < *n; i++ {
		b, err := os.ReadFile(filepath.Join(*cache, fmt.Sprintf("d%06d.oct", i)))
		if err != nil {
			continue
		}
		var t engine.Target
		if err := t.UnmarshalBinary(b); err != nil || t.Thumb == nil {
			continue
		}
		var img bytes.Buffer
		jpeg.Encode(&img, t.Thumb, &jpeg.Options{Quality: 85})
		rec := store.Target{ID: store.NewUUID(), Name: fmt.Sprintf("d%06d", i), Size: "20", Type: "ImageTarget",
			Active: true, Modified: time.Now().UnixMilli()}
		if err := st.CreateTarget(ctx, app, rec, store.Blobs{Image: img.Bytes(), Features: b}, store.Limits{}); err != nil {
			panic(err)
		}
		added++
		if added%10000 == 0 {
			fmt.Println(added, time.Since(start))
		}
	}
	if err := st.Sync(); err != nil {
		panic(err)
	}
	st.Close()
	fmt.Println("added", added, time.Since(start))
}
