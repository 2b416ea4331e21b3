package eval

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// WriteTable prints the report as the human-readable tables of `opencrs eval`.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "targets %d, distractors %d, queries %d, workers %d\n", r.Targets, r.Distractors, r.Queries, r.Workers)
	if len(r.Unusable) > 0 {
		fmt.Fprintf(w, "left out: %d targets the engine refuses (too few features) and their %d queries\n", len(r.Unusable), r.DroppedQueries)
	}
	if r.Synthetic > 0 {
		fmt.Fprintf(w, "SIMULATED: + %d synthetic feature-level distractors (mosaics of %d real prepared targets, no images)\n",
			r.Synthetic, r.SyntheticBase)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "difficulty\tn\tright\twrong\tmiss\trecall\twrong %\t")
	for _, d := range difficulties(r.ByDifficulty) {
		c := r.ByDifficulty[d]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f%%\t%.2f%%\t\n", d, c.N, c.Right, c.Wrong, c.Miss,
			100*c.Recall(), 100*float64(c.Wrong)/float64(max(c.N, 1)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nrecall by detection grade (0 best … 4 worst, -1 unusable):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "difficulty\t")
	gradeNames := []string{"-1", "0", "1", "2", "3", "4"}
	for _, g := range gradeNames {
		fmt.Fprintf(tw, "g%s\t", g)
	}
	fmt.Fprintln(tw)
	for _, d := range difficulties(r.ByDifficulty) {
		byG, ok := r.ByGrade[d]
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "%s\t", d)
		for _, g := range gradeNames {
			c := byG[g]
			if c.N == 0 {
				fmt.Fprint(tw, "-\t")
				continue
			}
			fmt.Fprintf(tw, "%.0f%% (%d)\t", 100*c.Recall(), c.N)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nsearch latency ms (extract+retrieve+verify): p50 %.1f  p95 %.1f  p99 %.1f\n", r.Latency.P50, r.Latency.P95, r.Latency.P99)
	fmt.Fprintf(w, "extraction ms p50 %.1f; decode ms p50 %.1f\n", r.Extract.P50, r.Decode.P50)
	fmt.Fprintf(w, "corner error px: median %.2f, p90 %.2f\n", r.CornerError.Median, r.CornerError.P90)
	fmt.Fprintf(w, "ingest %.1f ms/target; index %.0f bytes/target\n", r.IngestMsPerTarget, r.IndexBytesPerTarget)
	if r.Restart.RestoreMs > 0 {
		fmt.Fprintf(w, "engine restart: snapshot of %.0f MB written in %.2f s, restored in %.2f s\n",
			float64(r.Restart.SnapshotBytes)/1e6, r.Restart.SnapshotMs/1e3, r.Restart.RestoreMs/1e3)
	}
	if r.Synthetic > 0 {
		fmt.Fprintf(w, "synthetic ingest %.2f ms/target\n", r.SyntheticMsPerTarget)
	}
	fmt.Fprintf(w, "hits with score >= 0.5: %d, right %d (precision %.2f%%)\n", r.Calibration.HitsScoreAtLeastHalf,
		r.Calibration.RightScoreAtLeastHalf, 100*r.Calibration.Precision)
	fmt.Fprintln(w, "\nmemory (process RSS from the OS; Go heap allocated, of it live, and obtained by the runtime):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tRSS\tpeak RSS\tGo heap\tlive\tGo sys\tRSS/target\t")
	all := r.Targets + r.Distractors + r.Synthetic
	for _, m := range []struct {
		name string
		m    Memory
	}{{"after ingest", r.Memory.AfterIngest}, {"after queries", r.Memory.AfterQueries}} {
		per := "-"
		if all > 0 && m.m.RSSBytes > 0 {
			per = fmt.Sprintf("%.0f KB", float64(m.m.RSSBytes)/float64(all)/1024)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", m.name, mib(m.m.RSSBytes), mib(m.m.PeakRSSBytes),
			mib(m.m.HeapBytes), mib(m.m.HeapLiveBytes), mib(m.m.GoSysBytes), per)
	}
	return tw.Flush()
}

// mib formats a byte count in MiB; "-" for zero (not measured).
func mib(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// difficulties orders the rows: the public set's levels first, then any other
// names sorted, negatives last.
func difficulties(m map[string]Counts) []string {
	rank := map[string]int{"easy": 0, "medium": 1, "hard": 2, "extreme": 3, "negative": 9}
	out := make([]string, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, oki := rank[out[i]]
		rj, okj := rank[out[j]]
		if !oki {
			ri = 5
		}
		if !okj {
			rj = 5
		}
		if ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}
