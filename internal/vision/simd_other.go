//go:build !goexperiment.simd || !amd64

package vision

// useSIMD is false: the AVX2 kernels need GOEXPERIMENT=simd on amd64.
const useSIMD = false

func fastPretestSIMD(win *pixelRows, t int, cand []int32) ([]int32, int) { return cand, 0 }

func blendRowsSIMD(v []uint16, a, b []byte, w0, w1 uint16) int { return 0 }
