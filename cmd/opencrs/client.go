package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opencrs/opencrs/internal/importer"
	"github.com/opencrs/opencrs/pkg/crsclient"
)

// The target, search, grade and similar commands talk to any CRS-compatible
// server through pkg/crsclient; this file only parses flags and prints.

// clientFlags are the connection flags those commands share.
type clientFlags struct {
	server, searchServer     string
	appID, apiKey, apiSecret string
	appKey, appSecret        string
	json                     bool
	timeout                  time.Duration
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", settingOr("OPENCRS_SERVER", "http://localhost:8888"), "management URL (env OPENCRS_SERVER)")
	fs.StringVar(&f.searchServer, "search-server", settingOr("OPENCRS_SEARCH_SERVER", "http://localhost:8080"), "recognition URL (env OPENCRS_SEARCH_SERVER)")
	fs.StringVar(&f.appID, "app-id", os.Getenv("OPENCRS_APP_ID"), "database appId (env OPENCRS_APP_ID)")
	fs.StringVar(&f.apiKey, "api-key", os.Getenv("OPENCRS_API_KEY"), "API key (env OPENCRS_API_KEY)")
	fs.StringVar(&f.apiSecret, "api-secret", os.Getenv("OPENCRS_API_SECRET"), "API secret (env OPENCRS_API_SECRET)")
	fs.StringVar(&f.appKey, "app-key", os.Getenv("OPENCRS_APP_KEY"), "cloud key, instead of an API key (env OPENCRS_APP_KEY)")
	fs.StringVar(&f.appSecret, "app-secret", os.Getenv("OPENCRS_APP_SECRET"), "cloud secret (env OPENCRS_APP_SECRET)")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.DurationVar(&f.timeout, "timeout", 0, "per-request timeout (0: none)")
}

func (f *clientFlags) client(ctx context.Context) (*crsclient.Client, error) {
	cfg := crsclient.Config{ServerURL: f.server, SearchURL: f.searchServer, AppID: f.appID, UserAgent: "opencrs-cli"}
	// An explicit API key wins over a cloud key from the environment.
	if f.apiKey != "" || f.apiSecret != "" {
		cfg.APIKey, cfg.APISecret = f.apiKey, f.apiSecret
		if f.appID == "" {
			return nil, errors.New("an API key needs --app-id (or OPENCRS_APP_ID)")
		}
	} else {
		cfg.AppKey, cfg.AppSecret = f.appKey, f.appSecret
	}
	if f.timeout > 0 {
		cfg.HTTPClient = &http.Client{Timeout: f.timeout}
	}
	return crsclient.New(cfg)
}

// clientCommand parses args for a client command and returns the client and
// the positional arguments, of which it requires want (-1: at least one).
func clientCommand(ctx context.Context, name string, args []string, stderr io.Writer, want int, extra func(fs *flag.FlagSet)) (*crsclient.Client, *clientFlags, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, nil, nil, err
	}
	if want >= 0 && len(pos) != want || want < 0 && len(pos) == 0 {
		return nil, nil, nil, fmt.Errorf("usage: opencrs %s: wrong number of arguments (%q)", name, pos)
	}
	c, err := cf.client(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, &cf, pos, nil
}

func runTarget(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: opencrs target add|get|list|update|delete|count|import [flags]")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add":
		return targetAdd(ctx, args, stdout, stderr)
	case "get":
		c, cf, pos, err := clientCommand(ctx, "target get ID", args, stderr, 1, nil)
		if err != nil {
			return err
		}
		t, err := c.GetTarget(ctx, pos[0])
		if err != nil {
			return err
		}
		return printTarget(stdout, cf.json, t)
	case "list":
		return targetList(ctx, args, stdout, stderr)
	case "update":
		return targetUpdate(ctx, args, stdout, stderr)
	case "delete":
		return targetDelete(ctx, args, stdout, stderr)
	case "count":
		c, cf, _, err := clientCommand(ctx, "target count", args, stderr, 0, nil)
		if err != nil {
			return err
		}
		n, err := c.Count(ctx)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, map[string]int{"count": n})
		}
		fmt.Fprintln(stdout, n)
		return nil
	case "import":
		return targetImport(ctx, args, stdout, stderr)
	}
	return fmt.Errorf("unknown target command %q (add, get, list, update, delete, count, import)", sub)
}

// targetFields are the flags add, update and import share.
type targetFields struct {
	name, size, meta, metaFile, active string
	allowSimilar                       bool
}

func (t *targetFields) register(fs *flag.FlagSet, withName bool) {
	if withName {
		fs.StringVar(&t.name, "name", "", "target name (default: image file name without extension)")
	}
	fs.StringVar(&t.size, "size", "", "physical width in cm (server default 20)")
	fs.StringVar(&t.meta, "meta", "", "meta data string")
	fs.StringVar(&t.metaFile, "meta-file", "", "read meta data from this file")
	fs.StringVar(&t.active, "active", "", `"1" (searchable) or "0"`)
	fs.BoolVar(&t.allowSimilar, "allow-similar", false, "add even if a similar target exists")
}

func (t *targetFields) readMeta() (string, error) {
	if t.metaFile == "" {
		return t.meta, nil
	}
	b, err := os.ReadFile(t.metaFile)
	return string(b), err
}

func parseActive(s string) (*bool, error) {
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, fmt.Errorf("--active %q: want 1 or 0", s)
	}
	return &b, nil
}

func targetAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf targetFields
	c, cf, pos, err := clientCommand(ctx, "target add IMAGE", args, stderr, 1, func(fs *flag.FlagSet) { tf.register(fs, true) })
	if err != nil {
		return err
	}
	img, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	in := crsclient.TargetInput{Image: img, Name: tf.name, Size: tf.size, AllowSimilar: tf.allowSimilar}
	if in.Name == "" {
		in.Name = importer.TargetName(pos[0])
	}
	if in.Meta, err = tf.readMeta(); err != nil {
		return err
	}
	if in.Active, err = parseActive(tf.active); err != nil {
		return err
	}
	t, err := c.CreateTarget(ctx, in)
	if err != nil {
		return err
	}
	return printTarget(stdout, cf.json, t)
}

func targetUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf targetFields
	var image string
	var fs *flag.FlagSet
	c, cf, pos, err := clientCommand(ctx, "target update ID", args, stderr, 1, func(f *flag.FlagSet) {
		fs = f
		tf.register(f, true)
		f.StringVar(&image, "image", "", "new image file")
	})
	if err != nil {
		return err
	}
	var up crsclient.TargetUpdate
	// Only flags given on the command line are sent: the rest keep their value.
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "name":
			up.Name = &v
		case "size":
			up.Size = &v
		case "meta":
			up.Meta = &v
		case "meta-file":
			m, err := tf.readMeta()
			ferr = errors.Join(ferr, err)
			up.Meta = &m
		case "active":
			a, err := parseActive(v)
			ferr = errors.Join(ferr, err)
			up.Active = a
		case "allow-similar":
			up.AllowSimilar = &tf.allowSimilar
		case "image":
			img, err := os.ReadFile(v)
			ferr = errors.Join(ferr, err)
			up.Image = img
		}
	})
	if ferr != nil {
		return ferr
	}
	t, err := c.UpdateTarget(ctx, pos[0], up)
	if err != nil {
		return err
	}
	return printTarget(stdout, cf.json, t)
}

func targetDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, cf, ids, err := clientCommand(ctx, "target delete ID...", args, stderr, -1, nil)
	if err != nil {
		return err
	}
	if len(ids) == 1 {
		t, err := c.DeleteTarget(ctx, ids[0])
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, t)
		}
		fmt.Fprintf(stdout, "deleted %s (%s)\n", t.TargetID, t.Name)
		return nil
	}
	res, err := c.DeleteTargets(ctx, ids)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, res)
	}
	for _, id := range res.Deleted {
		fmt.Fprintf(stdout, "deleted %s\n", id)
	}
	for _, id := range res.NotFound {
		fmt.Fprintf(stdout, "not found %s\n", id)
	}
	if len(res.NotFound) > 0 {
		return fmt.Errorf("%d targets not found", len(res.NotFound))
	}
	return nil
}

func targetList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var page, size int
	var all bool
	c, cf, _, err := clientCommand(ctx, "target list", args, stderr, 0, func(fs *flag.FlagSet) {
		fs.IntVar(&page, "page", 1, "page number")
		fs.IntVar(&size, "page-size", 20, "targets per page (1-100)")
		fs.BoolVar(&all, "all", false, "list every page")
	})
	if err != nil {
		return err
	}
	if !all {
		p, err := c.ListTargets(ctx, page, size)
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, p)
		}
		printTargets(stdout, p.Targets)
		fmt.Fprintf(stdout, "page %d (%d per page), %d targets in all\n", p.PageNum, p.PageSize, p.Total)
		return nil
	}
	var targets []crsclient.Target
	for page := 1; ; page++ {
		p, err := c.ListTargets(ctx, page, 100)
		if err != nil {
			return err
		}
		targets = append(targets, p.Targets...)
		if len(p.Targets) == 0 || len(targets) >= p.Total {
			break
		}
	}
	if cf.json {
		return printJSON(stdout, targets)
	}
	printTargets(stdout, targets)
	return nil
}

func targetImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var tf targetFields
	var workers int
	var journal string
	c, cf, pos, err := clientCommand(ctx, "target import DIR", args, stderr, 1, func(fs *flag.FlagSet) {
		tf.register(fs, false)
		fs.IntVar(&workers, "workers", runtime.NumCPU(), "concurrent uploads")
		fs.StringVar(&journal, "journal", "", "journal of uploaded files (default DIR/"+importer.JournalName+")")
	})
	if err != nil {
		return err
	}
	tmpl := crsclient.TargetInput{Size: tf.size, AllowSimilar: tf.allowSimilar}
	if tmpl.Meta, err = tf.readMeta(); err != nil {
		return err
	}
	if tmpl.Active, err = parseActive(tf.active); err != nil {
		return err
	}
	sum, runErr := importer.Run(ctx, c, importer.Options{
		Dir: pos[0], Journal: journal, Workers: workers, Template: tmpl,
		Progress: stderr, Terminal: isTerminal(stderr),
	})
	if cf.json {
		if err := printJSON(stdout, sum); err != nil {
			return err
		}
	} else {
		printImportSummary(stdout, sum)
	}
	if runErr != nil {
		return runErr
	}
	if len(sum.Failures) > 0 {
		return fmt.Errorf("%d files failed; run again to retry them", len(sum.Failures))
	}
	return nil
}

// printImportSummary prints an import's counts and every failed file.
func printImportSummary(w io.Writer, sum importer.Summary) {
	fmt.Fprintf(w, "%d images: %d uploaded, %d already imported, %d failed\n",
		sum.Found, sum.Uploaded, sum.Skipped, len(sum.Failures))
	for _, f := range sum.Failures {
		if f.Code != 0 {
			fmt.Fprintf(w, "  %s: %d %s\n", f.File, f.Code, f.Message)
		} else {
			fmt.Fprintf(w, "  %s: %s\n", f.File, f.Message)
		}
	}
}

// isTerminal reports whether w is a character device, i.e. a terminal
// that understands \r redraws.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runSearch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var opt crsclient.SearchOptions
	c, cf, pos, err := clientCommand(ctx, "search IMAGE", args, stderr, 1, func(fs *flag.FlagSet) {
		fs.IntVar(&opt.ExpectNumber, "expect", 0, "number of targets to return (1-10)")
		fs.BoolVar(&opt.NoTracking, "notracking", false, "leave trackingImage out")
		fs.StringVar(&opt.DeviceID, "device-id", "", "device id (device-counted databases)")
		fs.BoolVar(&opt.Multipart, "multipart", false, "send the image as multipart to /v2/search")
	})
	if err != nil {
		return err
	}
	img, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	r, err := c.Search(ctx, img, opt)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, r)
	}
	hits := r.Targets
	if len(hits) == 0 {
		hits = []crsclient.Hit{r.Hit}
	}
	printHits(stdout, hits)
	return nil
}

func runSimilar(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, cf, pos, err := clientCommand(ctx, "similar IMAGE", args, stderr, 1, nil)
	if err != nil {
		return err
	}
	img, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	hits, err := c.Similar(ctx, img)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, map[string]any{"results": hits})
	}
	if len(hits) == 0 {
		fmt.Fprintln(stdout, "no similar targets")
		return nil
	}
	printHits(stdout, hits)
	return nil
}

func runGrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, cf, pos, err := clientCommand(ctx, "grade IMAGE", args, stderr, 1, nil)
	if err != nil {
		return err
	}
	img, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	g, err := c.Grade(ctx, img)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, g)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "detectableRate\t%d\t(0 best … 4 worst, -1 unusable)\n", g.DetectableRate)
	fmt.Fprintf(tw, "trackableRate\t%d\n", g.TrackableRate)
	fmt.Fprintf(tw, "detectableDistinctiveness\t%d\n", g.DetectableDistinctiveness)
	fmt.Fprintf(tw, "detectableFeatureCount\t%d\n", g.DetectableFeatureCount)
	fmt.Fprintf(tw, "trackableDistinctiveness\t%d\n", g.TrackableDistinctiveness)
	fmt.Fprintf(tw, "trackableFeatureCount\t%d\n", g.TrackableFeatureCount)
	fmt.Fprintf(tw, "trackableFeatureDistribution\t%d\n", g.TrackableFeatureDistribution)
	fmt.Fprintf(tw, "trackablePatchContrast\t%d\n", g.TrackablePatchContrast)
	fmt.Fprintf(tw, "trackablePatchAmbiguity\t%d\n", g.TrackablePatchAmbiguity)
	return tw.Flush()
}

func printTarget(w io.Writer, asJSON bool, t *crsclient.Target) error {
	if asJSON {
		return printJSON(w, t)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "targetId\t%s\n", t.TargetID)
	fmt.Fprintf(tw, "name\t%s\n", t.Name)
	fmt.Fprintf(tw, "active\t%s\n", t.Active)
	fmt.Fprintf(tw, "size\t%s\n", t.Size)
	fmt.Fprintf(tw, "type\t%s\n", t.Type)
	fmt.Fprintf(tw, "meta\t%s\n", abbreviate(t.Meta, 60))
	fmt.Fprintf(tw, "detectableRate\t%d\n", t.DetectableRate)
	fmt.Fprintf(tw, "trackableRate\t%d\n", t.TrackableRate)
	fmt.Fprintf(tw, "modified\t%s\n", modified(t.Modified))
	if t.TrackingImage != "" {
		fmt.Fprintf(tw, "trackingImage\t%d bytes of base64 (see --json)\n", len(t.TrackingImage))
	}
	for k, v := range t.Extra {
		fmt.Fprintf(tw, "%s\t%s\n", k, abbreviate(v, 60))
	}
	return tw.Flush()
}

func printTargets(w io.Writer, ts []crsclient.Target) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGETID\tNAME\tACTIVE\tSIZE\tDET\tTRK\tMODIFIED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", t.TargetID, t.Name, t.Active, t.Size, t.DetectableRate, t.TrackableRate, modified(t.Modified))
	}
	tw.Flush()
}

func printHits(w io.Writer, hits []crsclient.Hit) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGETID\tNAME\tSCORE\tCORNERS")
	for _, h := range hits {
		corners := make([]string, len(h.Corners))
		for i, p := range h.Corners {
			corners[i] = fmt.Sprintf("(%.0f,%.0f)", p.X, p.Y)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%s\n", h.Target.TargetID, h.Target.Name, h.Score, strings.Join(corners, " "))
	}
	tw.Flush()
}

func modified(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
