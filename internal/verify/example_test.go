package verify_test

import (
	"fmt"

	"github.com/opencrs/opencrs/internal/feature"
	"github.com/opencrs/opencrs/internal/verify"
)

// Verifying one candidate target against a query. The Prepared form of the
// target is built once and reused for every query.
func Example() {
	var query, target *feature.Set // from the extractor
	var queryBuckets, targetBuckets []uint32

	prepared := verify.Prepare(target, targetBuckets)
	pairs := verify.MatchPrepared(query, queryBuckets, prepared, verify.MatchOptions{}, nil)
	res := verify.Verify(query, target, pairs, verify.Options{})
	if !res.OK {
		fmt.Println("not this target:", res.Reason)
		return
	}
	fmt.Println(res.Inliers, res.Corners)
}
