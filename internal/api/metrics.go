package api

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics keeps the counters /metrics exposes in the Prometheus text
// format (version 0.0.4), written by hand: the team uses no client library.
// Label sets are bounded: endpoints are route names, not raw paths.
type metrics struct {
	mu       sync.Mutex
	requests map[reqKey]uint64
	latency  map[latKey]*histogram
	hits     uint64
	misses   uint64
}

type reqKey struct {
	listener, endpoint string
	status             int
}

type latKey struct{ listener, endpoint string }

// latencyBuckets are upper bounds in seconds, from a fast auth failure to a
// slow search on a large database.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[reqKey]uint64{}, latency: map[latKey]*histogram{}}
}

func (m *metrics) observe(listener, endpoint string, status int, d time.Duration) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[reqKey{listener, endpoint, status}]++
	h := m.latency[latKey{listener, endpoint}]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.latency[latKey{listener, endpoint}] = h
	}
	i := sort.SearchFloat64s(latencyBuckets, sec) // first bound >= sec
	h.counts[i]++
	h.sum += sec
	h.n++
}

func (m *metrics) search(hit bool) {
	m.mu.Lock()
	if hit {
		m.hits++
	} else {
		m.misses++
	}
	m.mu.Unlock()
}

// labelValue escapes a label value as the text format requires.
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// write renders every metric, series sorted so scrapes are stable.
func (m *metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()

	fmt.Fprintln(w, "# HELP opencrs_http_requests_total HTTP requests by listener, endpoint and status.")
	fmt.Fprintln(w, "# TYPE opencrs_http_requests_total counter")
	rks := make([]reqKey, 0, len(m.requests))
	for k := range m.requests {
		rks = append(rks, k)
	}
	sort.Slice(rks, func(i, j int) bool {
		a, b := rks[i], rks[j]
		if a.listener != b.listener {
			return a.listener < b.listener
		}
		if a.endpoint != b.endpoint {
			return a.endpoint < b.endpoint
		}
		return a.status < b.status
	})
	for _, k := range rks {
		fmt.Fprintf(w, "opencrs_http_requests_total{listener=\"%s\",endpoint=\"%s\",status=\"%d\"} %d\n",
			labelValue(k.listener), labelValue(k.endpoint), k.status, m.requests[k])
	}

	fmt.Fprintln(w, "# HELP opencrs_http_request_duration_seconds HTTP request latency by listener and endpoint.")
	fmt.Fprintln(w, "# TYPE opencrs_http_request_duration_seconds histogram")
	lks := make([]latKey, 0, len(m.latency))
	for k := range m.latency {
		lks = append(lks, k)
	}
	sort.Slice(lks, func(i, j int) bool {
		if lks[i].listener != lks[j].listener {
			return lks[i].listener < lks[j].listener
		}
		return lks[i].endpoint < lks[j].endpoint
	})
	for _, k := range lks {
		h := m.latency[k]
		labels := fmt.Sprintf("listener=\"%s\",endpoint=\"%s\"", labelValue(k.listener), labelValue(k.endpoint))
		var cum uint64
		for i, ub := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "opencrs_http_request_duration_seconds_bucket{%s,le=\"%s\"} %d\n", labels, fmtFloat(ub), cum)
		}
		cum += h.counts[len(latencyBuckets)]
		fmt.Fprintf(w, "opencrs_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, cum)
		fmt.Fprintf(w, "opencrs_http_request_duration_seconds_sum{%s} %s\n", labels, fmtFloat(h.sum))
		fmt.Fprintf(w, "opencrs_http_request_duration_seconds_count{%s} %d\n", labels, h.n)
	}

	fmt.Fprintln(w, "# HELP opencrs_search_results_total Searches by outcome.")
	fmt.Fprintln(w, "# TYPE opencrs_search_results_total counter")
	fmt.Fprintf(w, "opencrs_search_results_total{result=\"hit\"} %d\n", m.hits)
	fmt.Fprintf(w, "opencrs_search_results_total{result=\"miss\"} %d\n", m.misses)
}

func (s *Service) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	s.metrics.write(w)
	// Targets held per database, read from the engines at scrape time.
	sizes := s.engines.sizes()
	ids := make([]string, 0, len(sizes))
	for id := range sizes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintln(w, "# HELP opencrs_engine_targets Targets indexed per database.")
	fmt.Fprintln(w, "# TYPE opencrs_engine_targets gauge")
	for _, id := range ids {
		fmt.Fprintf(w, "opencrs_engine_targets{appId=\"%s\"} %d\n", labelValue(id), sizes[id])
	}
}
