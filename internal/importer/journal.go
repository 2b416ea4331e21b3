package importer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// entry is one line of the journal: a file that became a target.
type entry struct {
	File     string `json:"file"`
	TargetID string `json:"targetId"`
	Name     string `json:"name,omitempty"`
}

// readJournal returns the files already uploaded, mapped to their targetId.
// A missing journal is an empty one. Lines that do not parse are skipped: the
// last line of a journal whose writer was killed may be cut short.
func readJournal(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("importer: reading journal: %w", err)
	}
	defer f.Close()
	done := make(map[string]string)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e entry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.File != "" && e.TargetID != "" {
			done[e.File] = e.TargetID
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("importer: reading journal %s: %w", path, err)
	}
	return done, nil
}

// journal appends entries, one write per line so that a crash loses at most
// the line being written.
type journal struct {
	f *os.File
}

func openJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("importer: opening journal: %w", err)
	}
	// A previous run killed mid-line leaves a fragment; start on a new line
	// so the next entry is not glued to it.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte("\n")); err != nil {
				f.Close()
				return nil, fmt.Errorf("importer: writing journal: %w", err)
			}
		}
	}
	return &journal{f: f}, nil
}

func (j *journal) add(e entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("importer: journal entry: %w", err)
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("importer: writing journal: %w", err)
	}
	return nil
}

func (j *journal) close() error { return j.f.Close() }
