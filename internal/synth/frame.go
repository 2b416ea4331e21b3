package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
)

// FrameParams describes one simulated camera frame of a planar target.
// Zero values take defaults: a 640x480 frame, focal length 0.9x the long
// side, area share 0.3, neutral tone, no blur, no noise, no JPEG round trip.
type FrameParams struct {
	W           int     `json:"w"`             // frame width, pixels
	H           int     `json:"h"`             // frame height, pixels
	RotDeg      float64 `json:"rot_deg"`       // in-plane rotation of the target, degrees
	TiltDeg     float64 `json:"tilt_deg"`      // out-of-plane tilt, degrees
	TiltAxisDeg float64 `json:"tilt_axis_deg"` // direction of the in-plane tilt axis, degrees
	Focal       float64 `json:"focal_px"`      // pinhole focal length, pixels
	AreaShare   float64 `json:"area_share"`    // target area / frame area (shrunk if it cannot fit)
	Blur        float64 `json:"blur_sigma"`    // Gaussian sigma, pixels
	Noise       float64 `json:"noise_sigma"`   // sensor noise sigma, grey levels
	Contrast    float64 `json:"contrast"`      // gain about mid-grey
	Brightness  float64 `json:"brightness"`    // offset, grey levels
	Gamma       float64 `json:"gamma"`         // exponent applied after contrast and brightness
	JPEGQuality int     `json:"jpeg_quality"`  // 1–100; 0 skips the JPEG round trip
	Seed        uint64  `json:"seed"`          // background crop and noise
}

func (p FrameParams) withDefaults() FrameParams {
	if p.W <= 0 || p.H <= 0 {
		p.W, p.H = 640, 480
	}
	if p.Focal <= 0 {
		p.Focal = 0.9 * float64(max(p.W, p.H))
	}
	if p.AreaShare <= 0 {
		p.AreaShare = 0.3
	}
	if p.Contrast == 0 {
		p.Contrast = 1
	}
	if p.Gamma == 0 {
		p.Gamma = 1
	}
	return p
}

// level holds the sampled ranges of one difficulty level; values are drawn
// uniformly within them. They follow the evaluation set's definitions.
type level struct {
	rot, tilt, areaLo, areaHi float64
	blur, noise               float64
	bright, conLo, conHi      float64
	gamLo, gamHi              float64
	quality                   int
}

func levelRanges(name string) (level, bool) {
	switch name {
	case "easy":
		return level{10, 15, 0.40, 0.90, 0.5, 2, 10, 0.9, 1.1, 0.9, 1.1, 85}, true
	case "medium":
		return level{30, 35, 0.20, 0.60, 1.0, 4, 20, 0.8, 1.2, 0.8, 1.25, 75}, true
	case "hard":
		return level{90, 50, 0.08, 0.35, 1.8, 7, 35, 0.65, 1.3, 0.7, 1.4, 60}, true
	case "extreme":
		return level{180, 65, 0.04, 0.20, 2.5, 10, 50, 0.5, 1.4, 0.6, 1.6, 45}, true
	}
	return level{}, false
}

// Levels lists the difficulty levels RandomParams knows, easiest first.
func Levels() []string { return []string{"easy", "medium", "hard", "extreme"} }

// RandomParams draws frame parameters for a difficulty level (easy, medium,
// hard or extreme); the same level and seed always give the same result.
// About 30% of frames are portrait (480x640), like phone footage.
// It panics on an unknown level: callers check user input against Levels.
func RandomParams(levelName string, seed uint64) FrameParams {
	l, ok := levelRanges(levelName)
	if !ok {
		panic(fmt.Sprintf("synth: unknown difficulty level %q", levelName))
	}
	// Length and first letter tell the four levels apart, so each level draws
	// its own stream for a seed. (Changing this changes committed fixtures.)
	r := newRNG(seed, uint64(len(levelName)), uint64(levelName[0]))
	p := FrameParams{W: 640, H: 480}
	if r.float() < 0.3 {
		p.W, p.H = 480, 640
	}
	p.RotDeg = r.uniform(-l.rot, l.rot)
	p.TiltDeg = r.uniform(0, l.tilt)
	p.TiltAxisDeg = r.uniform(0, 360)
	p.Focal = r.uniform(0.75, 1.05) * float64(max(p.W, p.H))
	p.AreaShare = r.uniform(l.areaLo, l.areaHi)
	p.Blur = r.uniform(0, l.blur)
	p.Noise = r.uniform(0, l.noise)
	p.Brightness = r.uniform(-l.bright, l.bright)
	p.Contrast = r.uniform(l.conLo, l.conHi)
	p.Gamma = r.uniform(l.gamLo, l.gamHi)
	p.JPEGQuality = l.quality
	p.Seed = r.next()
	return p
}

// Frame simulates a camera photo of target lying on background: the target
// is rotated in plane, tilted, projected through a pinhole camera, centred
// and sized to p.AreaShare of the frame (shrunk until it fits), then the
// whole frame gets tone changes, blur, noise and a JPEG round trip.
// It returns the frame, the homography from target to frame pixels, and the
// images of the target corners (0,0), (w,0), (w,h), (0,h): TL, TR, BR, BL.
// A nil background gives a mid-grey one.
func Frame(target, background *image.Gray, p FrameParams) (frame *image.Gray, h Homography, corners [4][2]float64) {
	p = p.withDefaults()
	r := newRNG(p.Seed, 0xf7a3e)
	frame = image.NewGray(image.Rect(0, 0, p.W, p.H))
	fillBackground(frame, background, r)

	tw, th := float64(target.Rect.Dx()), float64(target.Rect.Dy())
	h = placement(tw, th, p)
	for i, c := range [4][2]float64{{0, 0}, {tw, 0}, {tw, th}, {0, th}} {
		corners[i][0], corners[i][1] = h.Apply(c[0], c[1])
	}

	// Shrink the target by halving until the warp no longer minifies by
	// more than 2x, so the bilinear warp sees a band-limited image.
	lin := math.Sqrt(quadArea(corners) / (tw * th))
	src, toLevel := target, Identity()
	for lin < 0.5 && src.Rect.Dx() >= 4 && src.Rect.Dy() >= 4 {
		src = halve(src)
		toLevel = halveMap().Mul(toLevel)
		lin *= 2
	}
	fromLevel, _ := toLevel.Inverse()
	Warp(frame, src, h.Mul(fromLevel))

	lut := toneLUT(p.Contrast, p.Brightness, p.Gamma)
	applyLUT(frame, &lut)
	gaussianBlur(frame, p.Blur)
	if p.Noise > 0 {
		for i := 0; i < len(frame.Pix); i += 2 {
			a, b := r.normal2()
			frame.Pix[i] = clamp8(float64(frame.Pix[i]) + p.Noise*a)
			if i+1 < len(frame.Pix) {
				frame.Pix[i+1] = clamp8(float64(frame.Pix[i+1]) + p.Noise*b)
			}
		}
	}
	if p.JPEGQuality > 0 {
		frame = jpegRoundTrip(frame, p.JPEGQuality)
	}
	return frame, h, corners
}

// placement builds the target-to-frame homography: target centred on the
// optical axis, rotated by R = tilt·roll, at distance f in front of a camera
// with focal length f, scaled to the area share and then translated so the
// quad's bounding box is centred in the frame.
func placement(tw, th float64, p FrameParams) Homography {
	roll := p.RotDeg * math.Pi / 180
	tilt := p.TiltDeg * math.Pi / 180
	axis := p.TiltAxisDeg * math.Pi / 180
	rz := [9]float64{math.Cos(roll), -math.Sin(roll), 0, math.Sin(roll), math.Cos(roll), 0, 0, 0, 1}
	rt := rodrigues(math.Cos(axis), math.Sin(axis), tilt)
	rot := mul3(rt, rz)
	f := p.Focal
	d := f

	build := func(s float64) Homography {
		// Target point (x, y) -> plane point s*(x-tw/2, y-th/2, 0) -> camera
		// rot*P + (0,0,d) -> pixel (f X/Z, f Y/Z); columns r1, r2, t.
		m := Homography{
			f * rot[0], f * rot[1], 0,
			f * rot[3], f * rot[4], 0,
			rot[6], rot[7], d,
		}
		return m.Mul(scale(s, s)).Mul(translate(-tw/2, -th/2))
	}
	cornersOf := func(h Homography) (c [4][2]float64) {
		for i, q := range [4][2]float64{{0, 0}, {tw, 0}, {tw, th}, {0, th}} {
			c[i][0], c[i][1] = h.Apply(q[0], q[1])
		}
		return c
	}
	// Keep every corner well in front of the camera so the quad stays convex.
	inFront := func(s float64) bool {
		h := build(s)
		for _, q := range [4][2]float64{{0, 0}, {tw, 0}, {tw, th}, {0, th}} {
			if h[6]*q[0]+h[7]*q[1]+h[8] < 0.2*d {
				return false
			}
		}
		return true
	}

	want := p.AreaShare * float64(p.W*p.H)
	s := math.Sqrt(want / (tw * th))
	for range 40 {
		for !inFront(s) {
			s *= 0.9
		}
		a := quadArea(cornersOf(build(s)))
		if a <= 0 || math.Abs(a/want-1) < 1e-6 {
			break
		}
		s *= math.Sqrt(want / a)
	}
	for !inFront(s) {
		s *= 0.9
	}
	for range 200 {
		minX, minY, maxX, maxY := bbox(cornersOf(build(s)))
		if maxX-minX <= float64(p.W)-2 && maxY-minY <= float64(p.H)-2 {
			break
		}
		s *= 0.98
	}
	hm := build(s)
	minX, minY, maxX, maxY := bbox(cornersOf(hm))
	hm = translate(float64(p.W)/2-(minX+maxX)/2, float64(p.H)/2-(minY+maxY)/2).Mul(hm)
	for i := range hm {
		hm[i] /= hm[8]
	}
	return hm
}

// rodrigues is the rotation by angle about the unit in-plane axis (ax, ay, 0).
func rodrigues(ax, ay, angle float64) [9]float64 {
	c, s := math.Cos(angle), math.Sin(angle)
	t := 1 - c
	return [9]float64{
		c + ax*ax*t, ax * ay * t, ay * s,
		ay * ax * t, c + ay*ay*t, -ax * s,
		-ay * s, ax * s, c,
	}
}

func mul3(a, b [9]float64) [9]float64 {
	return [9]float64(Homography(a).Mul(Homography(b)))
}

func quadArea(c [4][2]float64) float64 {
	var a float64
	for i := range c {
		j := (i + 1) % 4
		a += c[i][0]*c[j][1] - c[j][0]*c[i][1]
	}
	return math.Abs(a) / 2
}

func bbox(c [4][2]float64) (minX, minY, maxX, maxY float64) {
	minX, minY, maxX, maxY = c[0][0], c[0][1], c[0][0], c[0][1]
	for _, q := range c[1:] {
		minX, maxX = math.Min(minX, q[0]), math.Max(maxX, q[0])
		minY, maxY = math.Min(minY, q[1]), math.Max(maxY, q[1])
	}
	return
}

// fillBackground covers frame with a random crop of bg (50–100% of the
// largest crop of the frame's aspect), or mid-grey without one.
func fillBackground(frame, bg *image.Gray, r *rng) {
	if bg == nil || bg.Rect.Empty() {
		for i := range frame.Pix {
			frame.Pix[i] = 128
		}
		return
	}
	fw, fh := float64(frame.Rect.Dx()), float64(frame.Rect.Dy())
	bw, bh := float64(bg.Rect.Dx()), float64(bg.Rect.Dy())
	c := math.Min(bw/fw, bh/fh) * r.uniform(0.5, 1) // background pixels per frame pixel
	x0 := r.uniform(0, bw-c*fw)
	y0 := r.uniform(0, bh-c*fh)
	// frame (x, y) -> background (x0 + c(x+0.5) - 0.5, ...)
	m := translate(x0-0.5+c/2, y0-0.5+c/2).Mul(scale(c, c))
	src, toLevel := bg, Identity()
	for c >= 2 && src.Rect.Dx() >= 4 && src.Rect.Dy() >= 4 {
		src = halve(src)
		toLevel = halveMap().Mul(toLevel)
		c /= 2
	}
	render(frame, frame.Rect, src, toLevel.Mul(m), true)
}

// jpegRoundTrip encodes and decodes img, adding real compression artefacts.
func jpegRoundTrip(img *image.Gray, quality int) *image.Gray {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return img // cannot fail for an in-memory grey image
	}
	m, err := jpeg.Decode(&buf)
	if err != nil {
		return img
	}
	if g, ok := m.(*image.Gray); ok {
		return g
	}
	return toGray(m)
}
