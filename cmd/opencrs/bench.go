package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/opencrs/opencrs/internal/importer"
	"github.com/opencrs/opencrs/pkg/crsclient"
)

// bench loads a running server with signed search requests, like a fleet of
// phones would, and reports outcomes, throughput and latency as seen by the
// client (signing, base64, HTTP and the server's work).

// benchResult is one search.
type benchResult struct {
	file    string
	outcome string // "hit", "miss" or "error"
	target  string // the best target's name on a hit
	score   float64
	latency time.Duration
	err     string
}

// benchSummary is what bench prints (also as JSON with --json).
type benchSummary struct {
	Requests    int            `json:"requests"`
	Concurrency int            `json:"concurrency"`
	Images      int            `json:"images"`
	Hits        int            `json:"hits"`
	Misses      int            `json:"misses"`
	Errors      int            `json:"errors"`
	ErrorKinds  map[string]int `json:"errorKinds,omitempty"`
	WallSeconds float64        `json:"wallSeconds"`
	PerSecond   float64        `json:"requestsPerSecond"`
	// Latencies in milliseconds over every request, errors included.
	P50MS  float64 `json:"p50ms"`
	P95MS  float64 `json:"p95ms"`
	P99MS  float64 `json:"p99ms"`
	MaxMS  float64 `json:"maxms"`
	MeanMS float64 `json:"meanms"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	dir := fs.String("images", "", "directory of query images, sent round robin (required)")
	n := fs.Int("n", 500, "number of search requests")
	conc := fs.Int("concurrency", 1, "requests in flight at once")
	out := fs.String("out", "", "write one tab-separated line per request to this file: image, outcome, target, score, ms, error")
	var opt crsclient.SearchOptions
	fs.BoolVar(&opt.NoTracking, "notracking", false, "leave trackingImage out of hits")
	fs.BoolVar(&opt.Multipart, "multipart", false, "send images as multipart to /v2/search")
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	if *dir == "" {
		return errors.New("--images DIR is required")
	}
	if *n <= 0 || *conc <= 0 {
		return errors.New("--n and --concurrency must be positive")
	}
	names, images, err := readImages(*dir)
	if err != nil {
		return err
	}
	c, err := benchClient(&cf, *conc)
	if err != nil {
		return err
	}

	results := make([]benchResult, *n)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Go(func() {
			for i := range next {
				k := i % len(images)
				results[i] = benchOne(ctx, c, names[k], images[k], opt)
			}
		})
	}
feed:
	for i := range *n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	wall := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}

	sum := summarize(results, wall)
	sum.Concurrency, sum.Images = *conc, len(images)
	if *out != "" {
		if err := writeBenchResults(*out, results); err != nil {
			return err
		}
	}
	if cf.json {
		return printJSON(stdout, sum)
	}
	fmt.Fprintf(stdout, "requests     %d (concurrency %d, %d images round robin)\n", sum.Requests, sum.Concurrency, sum.Images)
	fmt.Fprintf(stdout, "hits         %d (%.1f%%)\n", sum.Hits, 100*float64(sum.Hits)/float64(sum.Requests))
	fmt.Fprintf(stdout, "misses       %d\n", sum.Misses)
	fmt.Fprintf(stdout, "errors       %d\n", sum.Errors)
	kinds := make([]string, 0, len(sum.ErrorKinds))
	for k := range sum.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(stdout, "  %5d  %s\n", sum.ErrorKinds[k], k)
	}
	fmt.Fprintf(stdout, "throughput   %.1f requests/s (%.1f s)\n", sum.PerSecond, sum.WallSeconds)
	fmt.Fprintf(stdout, "latency ms   p50 %.1f  p95 %.1f  p99 %.1f  max %.1f  mean %.1f\n", sum.P50MS, sum.P95MS, sum.P99MS, sum.MaxMS, sum.MeanMS)
	return nil
}

// benchClient is clientFlags.client with a connection pool sized for conc
// requests in flight (the default keeps only two idle connections per host).
func benchClient(cf *clientFlags, conc int) (*crsclient.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc
	cfg := crsclient.Config{SearchURL: cf.searchServer, AppID: cf.appID, UserAgent: "opencrs-bench",
		HTTPClient: &http.Client{Transport: tr, Timeout: cf.timeout}}
	if cf.apiKey != "" || cf.apiSecret != "" {
		if cf.appID == "" {
			return nil, errors.New("an API key needs --app-id (or OPENCRS_APP_ID)")
		}
		cfg.APIKey, cfg.APISecret = cf.apiKey, cf.apiSecret
	} else {
		cfg.AppKey, cfg.AppSecret = cf.appKey, cf.appSecret
	}
	return crsclient.New(cfg)
}

// readImages loads every image file of dir, in name order.
func readImages(dir string) (names []string, images [][]byte, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if e.IsDir() || !importer.IsImage(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		names, images = append(names, e.Name()), append(images, b)
	}
	if len(images) == 0 {
		return nil, nil, fmt.Errorf("no .jpg, .jpeg, .png or .webp files in %s", dir)
	}
	return names, images, nil
}

func benchOne(ctx context.Context, c *crsclient.Client, name string, img []byte, opt crsclient.SearchOptions) benchResult {
	t0 := time.Now()
	r, err := c.Search(ctx, img, opt)
	res := benchResult{file: name, latency: time.Since(t0)}
	switch {
	case err == nil:
		res.outcome, res.target, res.score = "hit", r.Target.Name, r.Score
	case errors.Is(err, crsclient.ErrNoMatch):
		res.outcome = "miss"
	default:
		res.outcome, res.err = "error", errorKind(err)
	}
	return res
}

// errorKind groups errors for the summary: the service's code and message,
// or the transport error.
func errorKind(err error) string {
	var apiErr *crsclient.Error
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("http %d, statusCode %d: %s", apiErr.HTTP, apiErr.Code, apiErr.Message)
	}
	return err.Error()
}

func summarize(results []benchResult, wall time.Duration) benchSummary {
	s := benchSummary{WallSeconds: wall.Seconds()}
	lat := make([]time.Duration, 0, len(results))
	var total time.Duration
	for _, r := range results {
		switch r.outcome {
		case "hit":
			s.Hits++
		case "miss":
			s.Misses++
		case "error":
			s.Errors++
			if s.ErrorKinds == nil {
				s.ErrorKinds = map[string]int{}
			}
			s.ErrorKinds[r.err]++
		default:
			continue // never sent (cancelled)
		}
		lat = append(lat, r.latency)
		total += r.latency
	}
	s.Requests = len(lat)
	if s.Requests == 0 {
		return s
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	s.P50MS, s.P95MS, s.P99MS = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.95)), ms(percentile(lat, 0.99))
	s.MaxMS = ms(lat[len(lat)-1])
	s.MeanMS = ms(total / time.Duration(len(lat)))
	s.PerSecond = float64(s.Requests) / wall.Seconds()
	return s
}

// percentile is the nearest-rank percentile of sorted, non-empty values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func writeBenchResults(path string, results []benchResult) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for _, r := range results {
		if r.outcome == "" {
			continue
		}
		fmt.Fprintf(f, "%s\t%s\t%s\t%.4f\t%.2f\t%s\n", r.file, r.outcome, r.target, r.score,
			float64(r.latency)/float64(time.Millisecond), r.err)
	}
	return f.Close()
}
