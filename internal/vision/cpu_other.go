//go:build !amd64 || purego

package vision

// useAVX2 is false where there is no assembly, or where the purego tag asks
// for the portable code (so that it stays tested on amd64 too).
const useAVX2 = false
