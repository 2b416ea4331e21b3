//go:build !amd64 || purego

package vision

// Without assembly useAVX2 is false and these are never called.

func fastExactAVX2(c *byte, w, n, t int, cand *int32) int { panic("vision: no AVX2 kernels") }
