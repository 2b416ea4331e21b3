package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/opencrs/opencrs/internal/api"
	"github.com/opencrs/opencrs/internal/importer"
	"github.com/opencrs/opencrs/internal/store"
	"github.com/opencrs/opencrs/pkg/crsclient"
)

// `opencrs index build` is the offline first load of a large database. It
// runs the service in this process over DATA's store, exactly as serve would
// (same store file, admin token, engine directory), and feeds it the folder
// through the importer that `opencrs target import` uses, whose requests the
// management handler serves directly (importer.InProcess): every image takes
// the API's create path — validation, limits, grading, tracking image,
// features stored, duplicate check — so nothing here re-implements it.

// indexJournalDir is the folder of DATA holding the build journals.
const indexJournalDir = "index-build"

func runIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: opencrs index build --data DIR [flags] DIR_OF_IMAGES")
	}
	switch args[0] {
	case "build":
		return indexBuild(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown index command %q (build)", args[0])
}

func indexBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	largeHeapGC() // the process ends up holding the whole index, as serve does
	fs := flag.NewFlagSet("index build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", settingOr("OPENCRS_DATA", "./data"), "data directory of the server to be (env OPENCRS_DATA)")
	appID := fs.String("app", "", "database to load (default: the one serve creates on first start; created if the store holds none)")
	workers := fs.Int("workers", runtime.NumCPU()+1, "targets prepared concurrently")
	journal := fs.String("journal", "", "journal of imported files (default DATA/"+indexJournalDir+"/APPID-HASH.jsonl, one per folder)")
	syncEach := fs.Bool("sync-each", false, "fsync the store after every target as serve does (slower); by default once at the end")
	logLevel := fs.String("log-level", "warn", "service log level: debug, info, warn, error (JSON on stderr)")
	var tf targetFields
	tf.register(fs, false)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: opencrs index build --data DIR [flags] DIR_OF_IMAGES")
	}
	dir := pos[0]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a directory of images", dir)
	}
	tmpl := crsclient.TargetInput{Size: tf.size, AllowSimilar: tf.allowSimilar}
	if tmpl.Meta, err = tf.readMeta(); err != nil {
		return err
	}
	if tmpl.Active, err = parseActive(tf.active); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	maxBody, err := envInt("OPENCRS_MAX_BODY", api.DefaultMaxBody)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// Without fsync per commit, a bulk load is bound by extraction, not by
	// the disk; Sync below makes it durable. A killed build loses nothing
	// the kernel had; a power loss mid-build can corrupt the store (rebuild).
	st, err := store.OpenBolt(filepath.Join(*data, dbFile), store.BoltOptions{Timeout: 2 * time.Second, NoSync: !*syncEach})
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return fmt.Errorf("%w\nstop the server first, or load through it with `opencrs target import DIR`", err)
		}
		return err
	}
	defer st.Close()
	token, err := adminToken(ctx, st, *data)
	if err != nil {
		return err
	}
	svc, err := api.New(ctx, api.Config{Store: st, Logger: log, AdminToken: string(token),
		MaxBody: int64(maxBody), EngineDir: filepath.Join(*data, engineDirName)})
	if err != nil {
		return err
	}
	// From here on the service is closed (snapshots written) on every path.
	closeSvc := func() error { return svc.Close(context.WithoutCancel(ctx)) }

	start := time.Now()
	n, err := svc.Load(ctx)
	if err != nil {
		closeSvc()
		return err
	}
	if n > 0 {
		fmt.Fprintf(stderr, "loaded %d stored targets in %.1f s\n", n, time.Since(start).Seconds())
	}
	app, creds, err := buildApp(ctx, svc, st, *appID)
	if err != nil {
		closeSvc()
		return err
	}
	if creds != nil {
		creds.print(stdout, *data)
	} else {
		fmt.Fprintf(stdout, "database %s (%s, mode %s)\n", app.ID, app.Name, app.Mode)
	}
	client, err := crsclient.New(crsclient.Config{ServerURL: "http://in-process", AppKey: app.AppKey, AppSecret: app.AppSecret,
		HTTPClient: importer.InProcess(svc.Management()), UserAgent: "opencrs-index-build"})
	if err != nil {
		closeSvc()
		return err
	}
	jpath := *journal
	if jpath == "" {
		if jpath, err = defaultJournal(*data, app.ID, dir); err != nil {
			closeSvc()
			return err
		}
	}
	fmt.Fprintf(stderr, "journal %s\n", jpath)

	t0 := time.Now()
	sum, runErr := importer.Run(ctx, client, importer.Options{
		Dir: dir, Journal: jpath, Workers: *workers, Template: tmpl,
		Progress: stderr, Terminal: isTerminal(stderr),
	})
	imported := time.Since(t0)

	// Durable in order: the store, then the engine's snapshot (a snapshot
	// ahead of the store would be reconciled anyway), then the files.
	t1 := time.Now()
	persistErr := st.Sync()
	persistErr = errors.Join(persistErr, svc.Snapshot(true), closeSvc())
	counts, cerr := st.CountTargets(context.WithoutCancel(ctx), app.ID)
	persistErr = errors.Join(persistErr, cerr, st.Close())
	persisted := time.Since(t1)

	printImportSummary(stdout, sum)
	total := imported + persisted
	fmt.Fprintf(stdout, "index build: %d targets in %.1f s (%.1f targets/s; %.1f s of it syncing the store and writing the engine snapshot); database %s holds %d targets\n",
		sum.Uploaded, total.Seconds(), float64(sum.Uploaded)/total.Seconds(), persisted.Seconds(), app.ID, counts.Total)
	if persistErr != nil {
		return fmt.Errorf("saving the build: %w", persistErr)
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; what was added is saved: run the same command again to resume (%w)", runErr)
		}
		return runErr
	}
	if len(sum.Failures) > 0 {
		return fmt.Errorf("%d files failed; run again to retry them", len(sum.Failures))
	}
	return nil
}

// buildApp returns the database to load: id if given, else the one serve
// creates on first start (the oldest named "default", or the only one),
// created with an API key as serve does when the store holds none; creds is
// set when it was created here.
func buildApp(ctx context.Context, svc *api.Service, st *store.Bolt, id string) (store.App, *firstStartCreds, error) {
	if id != "" {
		a, err := st.App(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return a, nil, fmt.Errorf("no database %s in this store (opencrs app list --data DATA)", id)
		}
		return a, nil, err
	}
	apps, err := st.Apps(ctx)
	if err != nil {
		return store.App{}, nil, err
	}
	if len(apps) == 0 {
		creds, err := createDefault(ctx, svc, st)
		if err != nil {
			return store.App{}, nil, err
		}
		return creds.app, creds, nil
	}
	if len(apps) == 1 {
		return apps[0], nil, nil
	}
	var def *store.App
	for i, a := range apps {
		if a.Name == "default" && (def == nil || a.Created.Before(def.Created)) {
			def = &apps[i]
		}
	}
	if def == nil {
		return store.App{}, nil, fmt.Errorf("the store holds %d databases and none is named default: choose one with --app (opencrs app list --data DATA)", len(apps))
	}
	return *def, nil, nil
}

// defaultJournal is the journal of loading dir into a database: in DATA, so
// that a fresh data directory starts a fresh build, and one per folder.
func defaultJournal(data, appID, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(abs))
	d := filepath.Join(data, indexJournalDir)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", fmt.Errorf("journal directory: %w", err)
	}
	return filepath.Join(d, appID+"-"+hex.EncodeToString(h[:6])+".jsonl"), nil
}
