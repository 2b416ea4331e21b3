//go:build !amd64 || purego

package vision

// Without assembly useAVX2 is false and these are never called.

func fastExactAVX2(c *byte, w, n, t int, cand *int32) int { panic("vision: no AVX2 kernels") }

func downscaleRowAVX2(out, r0, r1 *byte, blocks int, w0, w1 int) { panic("vision: no AVX2 kernels") }

func boxImageAVX2(box, ii *uint16, s, rows, cols int) { panic("vision: no AVX2 kernels") }

func comparePairsAVX2(box *uint16, pairs *int32, desc *[4]uint64) { panic("vision: no AVX2 kernels") }

func integralAVX2(ii *uint16, pix *byte, s, w, rows, blocks int) { panic("vision: no AVX2 kernels") }

func harrisAVX2(p *byte, w int) (a, b, c int) { panic("vision: no AVX2 kernels") }
