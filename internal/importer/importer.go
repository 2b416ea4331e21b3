// Package importer uploads a directory of images as targets: concurrently,
// with progress reporting, and resumably through a journal of the files
// already uploaded, so an interrupted import can simply be run again.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencrs/opencrs/pkg/crsclient"
)

// Uploader creates targets; *crsclient.Client is one.
type Uploader interface {
	CreateTarget(ctx context.Context, in crsclient.TargetInput) (*crsclient.Target, error)
}

// JournalName is the journal's file name inside the imported directory.
const JournalName = ".opencrs-import.jsonl"

// MaxNameLen is the longest target name the API accepts.
const MaxNameLen = 64

// Options configure Run.
type Options struct {
	Dir     string
	Journal string // empty means Dir/JournalName
	Workers int    // concurrent uploads; 0 means runtime.NumCPU()
	// Template is applied to every target: Size, Meta, Active, AllowSimilar,
	// Extra. Its Image and Name are ignored.
	Template crsclient.TargetInput
	// Progress receives the progress display; nil shows none.
	Progress io.Writer
	// Terminal redraws one progress line in place; otherwise a line is
	// written every Interval.
	Terminal bool
	Interval time.Duration // 0 means 5 s
	Now      func() time.Time
}

// Failure is one file that could not be uploaded.
type Failure struct {
	File    string `json:"file"`
	HTTP    int    `json:"http,omitempty"`
	Code    int    `json:"statusCode,omitempty"`
	Message string `json:"message"`
}

// Summary is the outcome of an import.
type Summary struct {
	Found    int       `json:"found"`    // image files in the directory
	Skipped  int       `json:"skipped"`  // already in the journal
	Uploaded int       `json:"uploaded"` // created in this run
	Failures []Failure `json:"failures"` // sorted by file
}

// IsImage reports whether a file name has an extension the service takes.
func IsImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png", ".webp":
		return true
	}
	return false
}

// TargetName derives a target name from a file name: the base name without
// extension, non-printable and non-ASCII characters replaced by '_',
// truncated to MaxNameLen.
func TargetName(file string) string {
	base := filepath.Base(file)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	var b strings.Builder
	for _, r := range base {
		if b.Len() == MaxNameLen {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '_'
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// ErrAborted wraps the error that stopped an import early: one every further
// upload would hit too (bad credentials, permission refused).
var ErrAborted = errors.New("import aborted")

// Run uploads every image in opt.Dir not yet in the journal. Per-file
// failures are collected in the summary and do not stop the import; an
// authentication failure or a cancelled context does, and is returned with
// the summary so far.
func Run(ctx context.Context, up Uploader, opt Options) (Summary, error) {
	if opt.Journal == "" {
		opt.Journal = filepath.Join(opt.Dir, JournalName)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	files, err := listImages(opt.Dir)
	if err != nil {
		return Summary{}, err
	}
	done, err := readJournal(opt.Journal)
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Found: len(files)}
	var todo []string
	for _, f := range files {
		if _, ok := done[f]; ok {
			sum.Skipped++
		} else {
			todo = append(todo, f)
		}
	}
	if len(todo) == 0 {
		return sum, nil
	}
	journal, err := openJournal(opt.Journal)
	if err != nil {
		return sum, err
	}
	defer journal.close()

	prog := newProgress(opt.Progress, opt.Terminal, opt.Interval, opt.Now, len(todo), sum.Skipped)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	jobs := make(chan string)
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		abortErr error
	)
	for range opt.Workers {
		wg.Go(func() {
			for f := range jobs {
				t, err := upload(ctx, up, opt, f)
				mu.Lock()
				switch {
				case err == nil:
					if jerr := journal.add(entry{File: f, TargetID: t.TargetID, Name: t.Name}); jerr != nil {
						// The target exists but a rerun would add it again:
						// stop rather than risk many duplicates.
						if abortErr == nil {
							abortErr = jerr
							cancel(jerr)
						}
					}
					sum.Uploaded++
				case ctx.Err() != nil:
					// Interrupted: neither done nor failed; a rerun retries it.
				default:
					sum.Failures = append(sum.Failures, failure(f, err))
					if fatal(err) && abortErr == nil {
						abortErr = fmt.Errorf("%w: %s: %w", ErrAborted, f, err)
						cancel(abortErr)
					}
				}
				prog.update(sum.Uploaded, len(sum.Failures))
				mu.Unlock()
			}
		})
	}
feed:
	for _, f := range todo {
		select {
		case jobs <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	prog.finish(sum.Uploaded, len(sum.Failures))

	sort.Slice(sum.Failures, func(i, j int) bool { return sum.Failures[i].File < sum.Failures[j].File })
	if abortErr != nil {
		return sum, abortErr
	}
	if err := context.Cause(ctx); err != nil {
		return sum, err
	}
	return sum, nil
}

func upload(ctx context.Context, up Uploader, opt Options, file string) (*crsclient.Target, error) {
	img, err := os.ReadFile(filepath.Join(opt.Dir, file))
	if err != nil {
		return nil, err
	}
	in := opt.Template
	in.Image, in.Name = img, TargetName(file)
	return up.CreateTarget(ctx, in)
}

func failure(file string, err error) Failure {
	var e *crsclient.Error
	if errors.As(err, &e) {
		return Failure{File: file, HTTP: e.HTTP, Code: e.Code, Message: e.Message}
	}
	return Failure{File: file, Message: err.Error()}
}

// fatal reports whether err will recur for every file: the credentials or
// their permissions were refused. (403 with statusCode 403 is "target
// already exists", a per-file failure.)
func fatal(err error) bool {
	var e *crsclient.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.HTTP == 401 || e.HTTP == 403 && e.Code < 100
}

func listImages(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("importer: %w", err)
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && IsImage(e.Name()) {
			files = append(files, e.Name())
		}
	}
	return files, nil
}
