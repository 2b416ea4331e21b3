// Command poolcollect gathers the training image pool from extracted Debian
// packages: every JPEG, PNG or WebP whose short side is at least -min pixels,
// that is mostly opaque and not flat, and that is not a near-duplicate of an
// image already taken (same picture at another resolution is common among
// wallpapers). It copies them into -out under flattened unique names and
// writes -out/SOURCES.tsv (file, package, original path).
//
// Usage: poolcollect -min 256 -out DIR PKGDIR...
//
// Each PKGDIR is one extracted package named after it, as
// scripts/fetch-training-images.sh lays them out (.../<package>/usr/share/...);
// only the directories named are read, so stale extractions cannot leak in.
// Output is deterministic: packages are visited in argument order and paths
// in sorted order, and of near-duplicates the first one wins.
package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // formats accepted in the pool
	_ "image/png"
	"io/fs"
	"log"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	_ "golang.org/x/image/webp"
)

// candidate is one image file found under a package root.
type candidate struct {
	pkg, rel, path string
}

// verdict is what inspecting a candidate decided.
type verdict struct {
	ok     bool
	reason string
	sum    [32]byte
	dhash  uint64
	w, h   int
}

// Texture maps that are not pictures: normal, specular, height maps and masks
// have unnatural statistics that would skew a vocabulary.
var skipName = regexp.MustCompile(`(?i)(normal|_nm\.|_n\.|specular|_spec|gloss|height|bump|_mask|mask_|lightmap|_ao\.)`)

func main() {
	minSide := flag.Int("min", 256, "minimum short side in pixels")
	maxPixels := flag.Int("maxpixels", 40_000_000, "skip images larger than this")
	out := flag.String("out", "", "output directory (created)")
	maxDist := flag.Int("dup", 6, "dHash Hamming distance at or below which images are near-duplicates")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, flag.Args(), *minSide, *maxPixels, *maxDist); err != nil {
		log.Fatalf("poolcollect: %v", err)
	}
}

func run(out string, pkgDirs []string, minSide, maxPixels, maxDist int) error {
	cands, err := find(pkgDirs)
	if err != nil {
		return err
	}
	log.Printf("poolcollect: %d candidate files", len(cands))

	verdicts := make([]verdict, len(cands))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				verdicts[i] = inspect(cands[i].path, minSide, maxPixels)
			}
		}()
	}
	for i := range cands {
		next <- i
	}
	close(next)
	wg.Wait()

	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	var tsv bytes.Buffer
	tsv.WriteString("file\tpackage\toriginal_path\n")
	seen := map[[32]byte]bool{}
	var kept []uint64
	names := map[string]bool{}
	reasons := map[string]int{}
	perPkg := map[string]int{}
	for i, c := range cands {
		v := verdicts[i]
		if !v.ok {
			reasons[v.reason]++
			continue
		}
		if seen[v.sum] {
			reasons["identical"]++
			continue
		}
		seen[v.sum] = true
		if nearDuplicate(v.dhash, kept, maxDist) {
			reasons["near-duplicate"]++
			continue
		}
		kept = append(kept, v.dhash)
		name := flatName(c.pkg, c.rel, v.sum, names)
		data, err := os.ReadFile(c.path)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.path, err)
		}
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		fmt.Fprintf(&tsv, "%s\t%s\t/%s\n", name, c.pkg, filepath.ToSlash(c.rel))
		perPkg[c.pkg]++
	}
	if err := os.WriteFile(filepath.Join(out, "SOURCES.tsv"), tsv.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write SOURCES.tsv: %w", err)
	}
	log.Printf("poolcollect: kept %d; skipped %v", len(kept), reasons)
	pkgs := make([]string, 0, len(perPkg))
	for p := range perPkg {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		log.Printf("poolcollect:   %-32s %5d", p, perPkg[p])
	}
	return nil
}

// find lists the image files under each package directory, sorted.
func find(pkgDirs []string) ([]candidate, error) {
	var cands []candidate
	for _, base := range pkgDirs {
		pkg := filepath.Base(filepath.Clean(base))
		err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() { // symlinks would duplicate
				return err
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".jpg", ".jpeg", ".png", ".webp":
			default:
				return nil
			}
			rel, _ := filepath.Rel(base, path)
			if skipName.MatchString(filepath.Base(rel)) {
				return nil
			}
			cands = append(cands, candidate{pkg: pkg, rel: rel, path: path})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", base, err)
		}
	}
	return cands, nil
}

// inspect decides whether a file belongs in the pool. It reads the header
// first so oversized or tiny images cost no decode.
func inspect(path string, minSide, maxPixels int) verdict {
	data, err := os.ReadFile(path)
	if err != nil {
		return verdict{reason: "unreadable"}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return verdict{reason: "undecodable"}
	}
	if min(cfg.Width, cfg.Height) < minSide {
		return verdict{reason: "small"}
	}
	if cfg.Width > maxPixels/cfg.Height {
		return verdict{reason: "huge"}
	}
	m, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return verdict{reason: "undecodable"}
	}
	thumb, clear := thumbnail(m)
	if clear > 0.3 {
		return verdict{reason: "transparent"}
	}
	if stddev(thumb[:]) < 12 {
		return verdict{reason: "flat"}
	}
	// Mostly one flat level (a few stars on black, a sprite sheet on a
	// plain ground): little to describe, and easy to tell from a target.
	if flatShare(thumb[:]) > 0.5 {
		return verdict{reason: "sparse"}
	}
	return verdict{ok: true, sum: sha256.Sum256(data), dhash: dhash(&thumb), w: cfg.Width, h: cfg.Height}
}

const thumbSide = 36

// thumbnail samples a thumbSide x thumbSide grey thumbnail (4x4 samples per
// cell, alpha over white) and the share of nearly transparent samples. Point
// samples through At are plenty for duplicate detection and far cheaper than
// converting a whole wallpaper.
func thumbnail(m image.Image) (t [thumbSide * thumbSide]float64, clear float64) {
	b := m.Bounds()
	const sub = 4
	n := 0
	for cy := 0; cy < thumbSide; cy++ {
		for cx := 0; cx < thumbSide; cx++ {
			var sum float64
			for sy := 0; sy < sub; sy++ {
				for sx := 0; sx < sub; sx++ {
					x := b.Min.X + ((cx*sub+sx)*2+1)*b.Dx()/(2*thumbSide*sub)
					y := b.Min.Y + ((cy*sub+sy)*2+1)*b.Dy()/(2*thumbSide*sub)
					r, g, bl, a := m.At(x, y).RGBA()
					if a < 0x8000 {
						n++
					}
					l := 0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl) + float64(0xffff-a)
					sum += l / 257
				}
			}
			t[cy*thumbSide+cx] = sum / (sub * sub)
		}
	}
	return t, float64(n) / (thumbSide * thumbSide * sub * sub)
}

// flatShare is the share of values within a few grey levels of the median.
func flatShare(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	med := s[len(s)/2]
	n := 0
	for _, x := range v {
		if math.Abs(x-med) < 6 {
			n++
		}
	}
	return float64(n) / float64(len(v))
}

func stddev(v []float64) float64 {
	var s, s2 float64
	for _, x := range v {
		s += x
		s2 += x * x
	}
	n := float64(len(v))
	return math.Sqrt(math.Max(0, s2/n-(s/n)*(s/n)))
}

// dhash is a 64-bit difference hash: the sign of horizontal gradients on a
// 9x8 reduction. It survives rescaling and recompression, which is what
// distinguishes copies of one wallpaper at several resolutions.
func dhash(t *[thumbSide * thumbSide]float64) uint64 {
	const cw, ch = 9, 8
	var g [ch][cw]float64
	for y := 0; y < thumbSide; y++ {
		for x := 0; x < thumbSide; x++ {
			g[y*ch/thumbSide][x*cw/thumbSide] += t[y*thumbSide+x]
		}
	}
	var h uint64
	for y := 0; y < ch; y++ {
		for x := 0; x < cw-1; x++ {
			h <<= 1
			if g[y][x+1] > g[y][x] {
				h |= 1
			}
		}
	}
	return h
}

func nearDuplicate(h uint64, kept []uint64, maxDist int) bool {
	for _, k := range kept {
		if bits.OnesCount64(h^k) <= maxDist {
			return true
		}
	}
	return false
}

// flatName turns pkg + path into a unique file name, keeping the extension
// and enough of the path to recognise the source.
func flatName(pkg, rel string, sum [32]byte, used map[string]bool) string {
	ext := strings.ToLower(filepath.Ext(rel))
	if ext == ".jpeg" {
		ext = ".jpg"
	}
	stem := strings.TrimSuffix(filepath.ToSlash(rel), filepath.Ext(rel))
	stem = strings.TrimPrefix(stem, "usr/share/")
	stem = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, stem)
	if len(stem) > 100 {
		stem = stem[len(stem)-100:]
	}
	name := pkg + "__" + stem + ext
	if used[name] {
		name = fmt.Sprintf("%s__%s_%x%s", pkg, stem, sum[:4], ext)
	}
	used[name] = true
	return name
}
