package devset

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencrs/opencrs/internal/vision"
)

// Dir is a folder of pictures, sorted by name.
type Dir struct {
	paths   []string
	maxSide int
}

// OpenDir lists the JPEG, PNG and WebP files of dir; pictures are decoded on
// demand and shrunk to maxSide.
func OpenDir(dir string, maxSide int) (*Dir, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("devset: %w", err)
	}
	d := &Dir{maxSide: maxSide}
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".webp":
			d.paths = append(d.paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(d.paths)
	if len(d.paths) == 0 {
		return nil, fmt.Errorf("devset: no pictures in %s", dir)
	}
	return d, nil
}

// Len returns the number of pictures.
func (d *Dir) Len() int { return len(d.paths) }

// Picture decodes the i-th picture.
func (d *Dir) Picture(i int) (*image.Gray, error) {
	b, err := os.ReadFile(d.paths[i])
	if err != nil {
		return nil, fmt.Errorf("devset: %w", err)
	}
	img, err := vision.Decode(b, vision.Limits{})
	if err != nil {
		return nil, fmt.Errorf("devset: %s: %w", d.paths[i], err)
	}
	return vision.Resize(img, d.maxSide), nil
}
