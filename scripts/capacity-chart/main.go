// Command capacity-chart turns `opencrs eval --json` reports taken at
// several database sizes into the table and chart of docs/CAPACITY.md:
//
//	go run ./scripts/capacity-chart -out docs/capacity.svg /tmp/capacity/*.json
//
// A report's database size is its targets plus distractors plus synthetic
// distractors; reports with synthetic ones are simulations (drawn hollow in
// the chart, flagged in the table). The Markdown table goes to stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

type point struct {
	size      float64
	simulated bool
	p50, p99  float64
	recall    map[string]float64 // by difficulty
	rss       float64            // peak resident bytes
	steady    float64            // resident bytes after ingest (collected)
	indexB    float64            // index bytes per target
	falseHits float64            // % of negative frames answered with a target
	wrong     float64            // % of positive frames answered with the wrong target
	restore   float64            // seconds to restore the engine from its snapshot
}

var difficulties = []string{"easy", "medium", "hard", "extreme"}

func main() {
	out := flag.String("out", "docs/capacity.svg", "SVG chart to write")
	flag.Parse()
	var pts []point
	for _, arg := range flag.Args() {
		p, err := load(arg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "capacity-chart:", err)
			os.Exit(1)
		}
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		fmt.Fprintln(os.Stderr, "usage: capacity-chart [-out FILE] REPORT.json ...")
		os.Exit(2)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].size < pts[j].size })
	table(os.Stdout, pts)
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "capacity-chart:", err)
		os.Exit(1)
	}
	chart(f, pts)
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "capacity-chart:", err)
		os.Exit(1)
	}
}

func load(path string) (point, error) {
	p := point{recall: map[string]float64{}}
	b, err := os.ReadFile(path)
	if err != nil {
		return point{}, err
	}
	var r struct {
		Targets, Distractors, Synthetic int
		ByDifficulty                    map[string]struct{ N, Right, Wrong int } `json:"by_difficulty"`
		Restart                         struct {
			RestoreMs float64 `json:"restore_ms"`
		} `json:"restart"`
		Latency    struct{ P50, P99 float64 } `json:"latency_ms"`
		IndexBytes float64                    `json:"index_bytes_per_target"`
		Memory     struct {
			AfterIngest struct {
				RSS     float64 `json:"rss_bytes"`
				PeakRSS float64 `json:"peak_rss_bytes"`
			} `json:"after_ingest"`
			AfterQueries struct {
				RSS     float64 `json:"rss_bytes"`
				PeakRSS float64 `json:"peak_rss_bytes"`
			} `json:"after_queries"`
		} `json:"memory"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return point{}, fmt.Errorf("%s: %w", path, err)
	}
	p.size = float64(r.Targets + r.Distractors + r.Synthetic)
	p.simulated = r.Synthetic > 0
	if p.size <= 0 {
		return point{}, fmt.Errorf("%s: no targets", path)
	}
	p.p50, p.p99, p.indexB = r.Latency.P50, r.Latency.P99, r.IndexBytes
	m := r.Memory
	p.rss = max(m.AfterIngest.PeakRSS, m.AfterQueries.PeakRSS, m.AfterIngest.RSS, m.AfterQueries.RSS)
	p.steady = m.AfterIngest.RSS
	p.restore = r.Restart.RestoreMs / 1e3
	positives, wrong := 0, 0
	for d, c := range r.ByDifficulty {
		if d == "negative" {
			if c.N > 0 {
				p.falseHits = 100 * float64(c.Wrong) / float64(c.N)
			}
			continue
		}
		positives += c.N
		wrong += c.Wrong
	}
	if positives > 0 {
		p.wrong = 100 * float64(wrong) / float64(positives)
	}
	for _, d := range difficulties {
		if c, ok := r.ByDifficulty[d]; ok && c.N > 0 {
			p.recall[d] = 100 * float64(c.Right) / float64(c.N)
		}
	}
	return p, nil
}

func table(w io.Writer, pts []point) {
	fmt.Fprintln(w, "| targets | search p50 / p99 ms | easy | medium | hard | extreme | wrong target | false hits | RSS after ingest | peak RSS | index B/target | engine restore |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range pts {
		size := fmt.Sprintf("%.0f", p.size)
		if p.simulated {
			size += " (SIMULATED)"
		}
		fmt.Fprintf(w, "| %s | %.1f / %.1f |", size, p.p50, p.p99)
		for _, d := range difficulties {
			fmt.Fprintf(w, " %.1f%% |", p.recall[d])
		}
		restore := "–"
		if p.restore > 0 {
			restore = fmt.Sprintf("%.2f s", p.restore)
		}
		fmt.Fprintf(w, " %.2f%% | %.2f%% | %.2f GB | %.2f GB | %.0f | %s |\n", p.wrong, p.falseHits, p.steady/1e9, p.rss/1e9, p.indexB, restore)
	}
}

// chart draws four panels against log10(size): latency, recall, RSS and
// index bytes per target.
func chart(w io.Writer, pts []point) {
	const (
		pw, ph = 360, 220 // panel
		mx, my = 60, 40   // margins inside a panel
	)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", 2*pw, 2*ph)
	fmt.Fprintln(w, `<rect width="100%" height="100%" fill="white"/>`)
	// Sizes sit just above powers of ten (206 evaluation targets plus
	// distractors): round the axis to the nearest decades around them.
	lo, hi := math.Floor(math.Log10(pts[0].size)+0.01), math.Ceil(math.Log10(pts[len(pts)-1].size)-0.01)
	if hi <= lo {
		hi = lo + 1
	}
	type series struct {
		name  string
		color string
		val   func(point) float64
	}
	panels := []struct {
		title string
		unit  string
		logY  bool
		s     []series
	}{
		{"search latency (single worker)", "ms", true, []series{
			{"p50", "#1f77b4", func(p point) float64 { return p.p50 }},
			{"p99", "#d62728", func(p point) float64 { return p.p99 }},
		}},
		{"recall by difficulty", "%", false, []series{
			{"easy", "#2ca02c", func(p point) float64 { return p.recall["easy"] }},
			{"medium", "#1f77b4", func(p point) float64 { return p.recall["medium"] }},
			{"hard", "#ff7f0e", func(p point) float64 { return p.recall["hard"] }},
			{"extreme", "#d62728", func(p point) float64 { return p.recall["extreme"] }},
		}},
		{"peak resident memory", "GB", true, []series{
			{"RSS", "#9467bd", func(p point) float64 { return p.rss / 1e9 }},
		}},
		{"index bytes per target", "KB", false, []series{
			{"index", "#8c564b", func(p point) float64 { return p.indexB / 1e3 }},
		}},
	}
	for i, pn := range panels {
		ox, oy := float64(i%2*pw), float64(i/2*ph)
		x0, y0 := ox+mx, oy+ph-my
		x1, y1 := ox+pw-20, oy+my-10
		ymax, ymin := 0.0, math.Inf(1)
		for _, s := range pn.s {
			for _, p := range pts {
				ymax = max(ymax, s.val(p))
				if v := s.val(p); v > 0 {
					ymin = min(ymin, v)
				}
			}
		}
		if pn.unit == "%" {
			ymax = 100
		}
		ymax = niceCeil(ymax)
		xp := func(size float64) float64 { return x0 + (math.Log10(size)-lo)/(hi-lo)*(x1-x0) }
		yp := func(v float64) float64 { return y0 - v/ymax*(y0-y1) }
		var ticks []float64
		if pn.logY && ymin < ymax {
			dlo, dhi := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
			yp = func(v float64) float64 {
				return y0 - (math.Log10(max(v, math.Pow(10, dlo)))-dlo)/(dhi-dlo)*(y0-y1)
			}
			for e := dlo; e <= dhi; e++ {
				ticks = append(ticks, math.Pow(10, e))
			}
		} else {
			for k := 0; k <= 4; k++ {
				ticks = append(ticks, ymax*float64(k)/4)
			}
		}
		scale := ""
		if pn.logY {
			scale = ", log scale"
		}
		fmt.Fprintf(w, `<text x="%.0f" y="%.0f" font-weight="bold">%s (%s%s)</text>`+"\n", ox+10, oy+16, pn.title, pn.unit, scale)
		fmt.Fprintf(w, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", x0, y0, x1, y0)
		fmt.Fprintf(w, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", x0, y0, x0, y1)
		for e := lo; e <= hi; e++ {
			x := xp(math.Pow(10, e))
			fmt.Fprintf(w, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#ddd"/>`+"\n", x, y0, x, y1)
			fmt.Fprintf(w, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x, y0+14, sizeLabel(math.Pow(10, e)))
		}
		for _, v := range ticks {
			fmt.Fprintf(w, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`+"\n", x0, yp(v), x1, yp(v))
			fmt.Fprintf(w, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-4, yp(v)+4, strconv.FormatFloat(v, 'g', 4, 64))
		}
		fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="middle">targets in the database (log scale; hollow = simulated)</text>`+"\n", (x0+x1)/2, y0+28)
		for si, s := range pn.s {
			var path strings.Builder
			for j, p := range pts {
				cmd := "L"
				if j == 0 {
					cmd = "M"
				}
				fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, xp(p.size), yp(s.val(p)))
			}
			fmt.Fprintf(w, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", path.String(), s.color)
			for _, p := range pts {
				fill := s.color
				if p.simulated {
					fill = "white"
				}
				fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" stroke="%s"/>`+"\n", xp(p.size), yp(s.val(p)), fill, s.color)
			}
			fmt.Fprintf(w, `<text x="%.0f" y="%.0f" fill="%s">%s</text>`+"\n", x0+8+float64(si)*58, oy+30, s.color, s.name)
		}
	}
	fmt.Fprintln(w, "</svg>")
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	m := math.Pow(10, math.Floor(math.Log10(v)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if v <= f*m {
			return f * m
		}
	}
	return 10 * m
}

func sizeLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}
