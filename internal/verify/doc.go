// Package verify decides whether a query image shows a candidate target: it
// matches the binary descriptors of the two feature sets and checks that the
// matches agree on one plausible homography, reporting the measurements the
// caller needs to score the candidate.
//
// Typical use, per candidate target returned by the index:
//
//	p := verify.Prepare(target, targetBuckets) // once per target, cached
//	pairs = verify.MatchPrepared(query, queryBuckets, p, verify.MatchOptions{}, pairs)
//	res := verify.Verify(query, target, pairs, verify.Options{})
//
// res.OK says the geometry is sound; Inliers, Coverage, QueryCoverage,
// AngleConsistency and ScaleConsistency are the raw material for a
// calibrated score. Chance matches on clutter rarely reach a dozen inliers,
// and when they do they seldom agree in keypoint orientation.
//
// Coordinates are pixels of the full-resolution images; the homography maps
// target pixels to query pixels. Keypoint angles are assumed to be measured
// in image coordinates (x right, y down) by both sets, and Keypoint.Scale is
// the size of the pyramid level relative to level 0.
//
// Everything is deterministic: Verify seeds its own random source from its
// input and Options.Seed, and keeps no state between calls, so it is safe for
// concurrent use.
package verify
