package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencrs/opencrs/internal/api"
	"github.com/opencrs/opencrs/internal/store"
)

// dbFile is the store's file name inside the data directory.
const dbFile = "opencrs.db"

// adminTokenFile holds the admin API token, readable only by the owner, so
// the CLI on the same machine can reach the admin API without flags.
const adminTokenFile = "admin.token"

// engineDirName is the folder of DATA where each database's engine keeps its
// feature file and index snapshot.
const engineDirName = "engines"

// settingOr returns the environment variable key, or def when it is unset.
func settingOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// envDuration reads a duration from the environment, def when unset; a
// malformed value is an error rather than a silent default.
func envDuration(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 5m", key, v)
	}
	return d, nil
}

// envInt reads a positive integer from the environment, def when unset.
func envInt(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", key, v)
	}
	return n, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	largeHeapGC()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", settingOr("OPENCRS_DATA", "./data"), "data directory (env OPENCRS_DATA)")
	mgmtAddr := fs.String("mgmt-addr", settingOr("OPENCRS_MGMT_ADDR", ":8888"), "management listener HOST:PORT (env OPENCRS_MGMT_ADDR)")
	recoAddr := fs.String("reco-addr", settingOr("OPENCRS_RECO_ADDR", ":8080"), "recognition listener HOST:PORT (env OPENCRS_RECO_ADDR)")
	logLevel := fs.String("log-level", settingOr("OPENCRS_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
	skewDef, err := envDuration("OPENCRS_SKEW", 5*time.Minute)
	if err != nil {
		return err
	}
	timeoutDef, err := envDuration("OPENCRS_SEARCH_TIMEOUT", api.DefaultSearchTimeout)
	if err != nil {
		return err
	}
	bodyDef, err := envInt("OPENCRS_MAX_BODY", api.DefaultMaxBody)
	if err != nil {
		return err
	}
	skew := fs.Duration("skew", skewDef, "accepted client clock skew (env OPENCRS_SKEW)")
	searchTimeout := fs.Duration("search-timeout", timeoutDef, "search deadline, 408/19 beyond (env OPENCRS_SEARCH_TIMEOUT)")
	maxBody := fs.Int64("max-body", int64(bodyDef), "request body limit in bytes, 413/422 beyond (env OPENCRS_MAX_BODY)")
	inRAM := fs.Bool("features-in-ram", false, "keep every target's verification features in RAM instead of DATA/engines (small databases only; restarts re-index everything)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := store.OpenBolt(filepath.Join(*data, dbFile), store.BoltOptions{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()

	token, err := adminToken(ctx, st, *data)
	if err != nil {
		return err
	}

	engineDir := filepath.Join(*data, engineDirName)
	if *inRAM {
		engineDir = ""
	}
	svc, err := api.New(ctx, api.Config{Store: st, Logger: log, AdminToken: string(token),
		Skew: *skew, SearchTimeout: *searchTimeout, MaxBody: *maxBody, EngineDir: engineDir})
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := svc.Load(ctx)
	if err != nil {
		svc.Close(context.Background())
		return err
	}
	log.Info("targets loaded", "targets", n, "duration", time.Since(start))

	apps, err := st.Apps(ctx)
	if err != nil {
		svc.Close(context.Background())
		return err
	}
	var firstStart *firstStartCreds
	if len(apps) == 0 {
		if firstStart, err = createDefault(ctx, svc, st); err != nil {
			svc.Close(context.Background())
			return err
		}
	}

	mgmtLn, err := net.Listen("tcp", *mgmtAddr)
	if err != nil {
		svc.Close(context.Background())
		return fmt.Errorf("management listener: %w", err)
	}
	recoLn, err := net.Listen("tcp", *recoAddr)
	if err != nil {
		mgmtLn.Close()
		svc.Close(context.Background())
		return fmt.Errorf("recognition listener: %w", err)
	}
	mgmtURL, recoURL := listenURL(mgmtLn), listenURL(recoLn)
	if firstStart != nil {
		firstStart.print(stdout, *data)
	} else {
		for _, a := range apps {
			fmt.Fprintf(stdout, "database %s (%s, mode %s)\n", a.ID, a.Name, a.Mode)
		}
	}
	fmt.Fprintf(stdout, "management URL (server-end):  %s\n", mgmtURL)
	fmt.Fprintf(stdout, "recognition URL (client-end): %s\n", recoURL)

	servers := []*http.Server{
		newServer(svc.Management(), log),
		newServer(svc.Recognition(), log),
	}
	errc := make(chan error, 2)
	for i, ln := range []net.Listener{mgmtLn, recoLn} {
		go func() { errc <- servers[i].Serve(ln) }()
	}
	log.Info("serving", "management", mgmtURL, "recognition", recoURL, "data", *data)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-errc:
		log.Error("listener failed", "err", serveErr)
	}
	// In-flight requests finish; new connections are refused.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("shutdown", "err", err)
		}
	}
	if err := svc.Close(sctx); err != nil {
		log.Warn("flushing usage", "err", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("closing store: %w", err)
	}
	log.Info("stopped")
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// adminToken reads the store's admin token (creating it on first use) and
// writes it to DATA/admin.token for the CLI on this machine.
func adminToken(ctx context.Context, st *store.Bolt, data string) ([]byte, error) {
	token, err := st.Secret(ctx, "admin-token", func() ([]byte, error) { return []byte(store.RandomHex(24)), nil })
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(data, adminTokenFile), append(token, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("writing admin token: %w", err)
	}
	return token, nil
}

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listenURL is the URL clients use for a listener; an unspecified host
// becomes localhost.
func listenURL(ln net.Listener) string {
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return "http://" + ln.Addr().String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

type firstStartCreds struct {
	app store.App
	key store.APIKey
}

// createDefault makes the default database and an API key on it on the
// first start, so a user can call the API right away.
func createDefault(ctx context.Context, svc *api.Service, st *store.Bolt) (*firstStartCreds, error) {
	a, err := svc.CreateApp(ctx, api.CreateAppRequest{Name: "default", Mode: string(store.ModeCall)})
	if err != nil {
		return nil, fmt.Errorf("creating default database: %w", err)
	}
	k := store.NewAPIKey("default", map[string]store.Perm{a.ID: store.PermRead | store.PermWrite}, time.Now())
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return nil, fmt.Errorf("creating default api key: %w", err)
	}
	return &firstStartCreds{a, k}, nil
}

func (c *firstStartCreds) print(w io.Writer, data string) {
	lines := []string{
		"First start: created the default database. Keep these; the secrets are not shown again.",
		"  appId:     " + c.app.ID,
		"  appKey:    " + c.app.AppKey,
		"  appSecret: " + c.app.AppSecret,
		"  apiKey:    " + c.key.Key,
		"  apiSecret: " + c.key.Secret,
		"  admin token: " + filepath.Join(data, adminTokenFile),
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}
