//go:build !purego

package vision

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels (asm_amd64.s), once, at start-up.
// It is a variable rather than a constant so that tests can run both paths
// on one machine.
var useAVX2 = cpu.X86.HasAVX2
