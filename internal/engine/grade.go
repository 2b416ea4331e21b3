package engine

import (
	"image"
	"math"

	"github.com/opencrs/opencrs/internal/feature"
)

// Grade is EasyAR's 0 (best) … 4 (worst) rating, -1 when it cannot be used,
// with the measurements behind it (each also 0…4).
type Grade struct {
	Detection int // detectableRate
	Tracking  int // trackableRate

	DetectionDistinctiveness    int
	DetectionFeatureCount       int
	TrackingDistinctiveness     int
	TrackingFeatureCount        int
	TrackingFeatureDistribution int
	TrackingPatchContrast       int
	TrackingPatchAmbiguity      int
}

// Thresholds of the grade. A target with fewer features than minFeatures
// cannot gather the consensus verification demands from a partial view.
const (
	minFeatures = 60
	// Descriptors closer than twinDistance bits, at places more than
	// twinRadius pixels apart, make matches ambiguous (repetitive texture).
	twinDistance = 40
	twinRadius   = 24
	gradeCells   = 8 // spread is measured on a gradeCells² grid
)

// bucket maps a measurement to 0 (best) … 4 (worst) given the values at which
// it reaches grades 0, 1, 2 and 3 (descending: larger is better).
func bucket(v float64, limits [4]float64) int {
	for g, l := range limits {
		if v >= l {
			return g
		}
	}
	return 4
}

// grade rates a target from its features and pixels. Detection depends on
// how many features there are, how distinct they are from one another
// (repetitive texture makes matches ambiguous), and how they spread over the
// image (a partial view must still hold enough). Tracking, which follows
// the target frame to frame at full resolution, weighs spread and local
// contrast more.
func grade(img *image.Gray, fs *feature.Set) Grade {
	n := len(fs.Keypoints)
	if n < minFeatures {
		return Grade{Detection: -1, Tracking: -1, DetectionFeatureCount: 4, TrackingFeatureCount: 4,
			DetectionDistinctiveness: 4, TrackingDistinctiveness: 4, TrackingFeatureDistribution: 4,
			TrackingPatchContrast: 4, TrackingPatchAmbiguity: 4}
	}
	var g Grade
	g.DetectionFeatureCount = bucket(float64(n), [4]float64{1450, 1300, 1000, 600})

	// Distinctiveness: share of descriptors with no near-twin elsewhere in
	// the image. Sampled for cost: 256 probes against all descriptors.
	distinct := distinctiveness(fs)
	g.DetectionDistinctiveness = bucket(distinct, [4]float64{0.9, 0.8, 0.65, 0.5})

	// Spread: share of grid cells holding a level-0/1 keypoint.
	spread := spread(fs)
	g.TrackingFeatureDistribution = bucket(spread, [4]float64{0.75, 0.55, 0.4, 0.25})

	contrast := contrast(img)
	g.TrackingPatchContrast = bucket(contrast, [4]float64{58, 42, 31, 20})

	fine := 0
	for _, k := range fs.Keypoints {
		if k.Octave <= 1 {
			fine++
		}
	}
	g.TrackingFeatureCount = bucket(float64(fine), [4]float64{400, 250, 120, 60})
	g.TrackingDistinctiveness = g.DetectionDistinctiveness
	g.TrackingPatchAmbiguity = g.DetectionDistinctiveness

	// Contrast is what best predicts recognition of small, blurred views
	// (measured with `opencrs eval`, recall per grade): faint pictures lose
	// their corners first. Feature count and distinctiveness cap it.
	g.Detection = max(g.TrackingPatchContrast, (g.DetectionFeatureCount+g.TrackingPatchContrast+1)/2, g.DetectionDistinctiveness)
	g.Tracking = max(g.TrackingFeatureCount, g.TrackingFeatureDistribution, g.TrackingPatchContrast-1, g.TrackingPatchAmbiguity)
	return g
}

func distinctiveness(fs *feature.Set) float64 {
	n := len(fs.Descriptors)
	step := max(1, n/256)
	probes, unique := 0, 0
	for i := 0; i < n; i += step {
		probes++
		best := 256
		ki := &fs.Keypoints[i]
		for j := range fs.Descriptors {
			// The same corner found on a neighbouring pyramid level is not
			// a twin: only descriptors of other places count.
			kj := &fs.Keypoints[j]
			if dx, dy := ki.X-kj.X, ki.Y-kj.Y; dx*dx+dy*dy < twinRadius*twinRadius {
				continue
			}
			if d := feature.Distance(&fs.Descriptors[i], &fs.Descriptors[j]); d < best {
				best = d
			}
		}
		if best > twinDistance {
			unique++
		}
	}
	return float64(unique) / float64(probes)
}

func spread(fs *feature.Set) float64 {
	var cells [gradeCells * gradeCells]bool
	w, h := float32(fs.Width), float32(fs.Height)
	if w <= 0 || h <= 0 {
		return 0
	}
	for _, k := range fs.Keypoints {
		cx := min(int(k.X/w*gradeCells), gradeCells-1)
		cy := min(int(k.Y/h*gradeCells), gradeCells-1)
		if cx >= 0 && cy >= 0 {
			cells[cy*gradeCells+cx] = true
		}
	}
	c := 0
	for _, b := range cells {
		if b {
			c++
		}
	}
	return float64(c) / float64(len(cells))
}

// contrast is the standard deviation of the grey levels.
func contrast(img *image.Gray) float64 {
	b := img.Bounds()
	var s, s2, n float64
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		row := img.Pix[img.PixOffset(b.Min.X, y):img.PixOffset(b.Max.X, y)]
		for x := 0; x < len(row); x += 2 {
			v := float64(row[x])
			s += v
			s2 += v * v
			n++
		}
	}
	if n == 0 {
		return 0
	}
	m := s / n
	return math.Sqrt(max(0, s2/n-m*m))
}
