//go:build !purego

#include "textflag.h"

// The 1.2 downscale of one row; see downscaleRowAVX2 in asm_amd64.go.
//
// Output d interpolates source columns s = d + d/5 and s+1 with the weight
// 26, 77, 128, 179 or 230 (by d%5) on s+1. Eight outputs take one step:
// each 128-bit half gathers the four column pairs of its four outputs
// from a 16-byte load at the first one (VPSHUFB, zero-extending to
// words), blends them vertically (VPMULLW; the 8.8 sums fit 16 bits), and
// VPMADDWD interpolates each pair. VPMADDWD multiplies signed words, so
// the blends are offset by -32768 (flipping bit 15); each pair of
// horizontal weights sums to 256, so that offsets every sum by -2^23,
// added back with lerp16's rounding. The 8-bit result is byte 2 of each
// 32-bit sum. Forty outputs (48 columns) make the weights repeat.

DATA ds65Shuf<>+0(SB)/8, $0x8002800180018000
DATA ds65Shuf<>+8(SB)/8, $0x8004800380038002
DATA ds65Shuf<>+16(SB)/8, $0x8003800280018000
DATA ds65Shuf<>+24(SB)/8, $0x8005800480048003
DATA ds65Shuf<>+32(SB)/8, $0x8002800180018000
DATA ds65Shuf<>+40(SB)/8, $0x8005800480048003
DATA ds65Shuf<>+48(SB)/8, $0x8002800180018000
DATA ds65Shuf<>+56(SB)/8, $0x8005800480038002
DATA ds65Shuf<>+64(SB)/8, $0x8002800180018000
DATA ds65Shuf<>+72(SB)/8, $0x8004800380038002
DATA ds65Shuf<>+80(SB)/8, $0x8002800180018000
DATA ds65Shuf<>+88(SB)/8, $0x8004800380038002
DATA ds65Shuf<>+96(SB)/8, $0x8003800280018000
DATA ds65Shuf<>+104(SB)/8, $0x8005800480048003
DATA ds65Shuf<>+112(SB)/8, $0x8002800180018000
DATA ds65Shuf<>+120(SB)/8, $0x8005800480048003
DATA ds65Shuf<>+128(SB)/8, $0x8002800180018000
DATA ds65Shuf<>+136(SB)/8, $0x8005800480038002
DATA ds65Shuf<>+144(SB)/8, $0x8002800180018000
DATA ds65Shuf<>+152(SB)/8, $0x8004800380038002
GLOBL ds65Shuf<>(SB), RODATA|NOPTR, $160

DATA ds65Wt<>+0(SB)/8, $0x004d00b3001a00e6
DATA ds65Wt<>+8(SB)/8, $0x00b3004d00800080
DATA ds65Wt<>+16(SB)/8, $0x001a00e600e6001a
DATA ds65Wt<>+24(SB)/8, $0x00800080004d00b3
DATA ds65Wt<>+32(SB)/8, $0x00e6001a00b3004d
DATA ds65Wt<>+40(SB)/8, $0x004d00b3001a00e6
DATA ds65Wt<>+48(SB)/8, $0x00b3004d00800080
DATA ds65Wt<>+56(SB)/8, $0x001a00e600e6001a
DATA ds65Wt<>+64(SB)/8, $0x00800080004d00b3
DATA ds65Wt<>+72(SB)/8, $0x00e6001a00b3004d
DATA ds65Wt<>+80(SB)/8, $0x004d00b3001a00e6
DATA ds65Wt<>+88(SB)/8, $0x00b3004d00800080
DATA ds65Wt<>+96(SB)/8, $0x001a00e600e6001a
DATA ds65Wt<>+104(SB)/8, $0x00800080004d00b3
DATA ds65Wt<>+112(SB)/8, $0x00e6001a00b3004d
DATA ds65Wt<>+120(SB)/8, $0x004d00b3001a00e6
DATA ds65Wt<>+128(SB)/8, $0x00b3004d00800080
DATA ds65Wt<>+136(SB)/8, $0x001a00e600e6001a
DATA ds65Wt<>+144(SB)/8, $0x00800080004d00b3
DATA ds65Wt<>+152(SB)/8, $0x00e6001a00b3004d
GLOBL ds65Wt<>(SB), RODATA|NOPTR, $160

DATA ds65Byte2<>+0(SB)/8, $0x808080800e0a0602
DATA ds65Byte2<>+8(SB)/8, $0x8080808080808080
DATA ds65Byte2<>+16(SB)/8, $0x808080800e0a0602
DATA ds65Byte2<>+24(SB)/8, $0x8080808080808080
GLOBL ds65Byte2<>(SB), RODATA|NOPTR, $32

DATA ds65Lanes<>+0(SB)/8, $0x0000000400000000
DATA ds65Lanes<>+8(SB)/8, $0x0000000000000000
DATA ds65Lanes<>+16(SB)/8, $0x0000000000000000
DATA ds65Lanes<>+24(SB)/8, $0x0000000000000000
GLOBL ds65Lanes<>(SB), RODATA|NOPTR, $32

// OUT8 writes the 8 outputs from o on, whose halves start at source
// columns a and b, with the shuffle and weights at k.
#define OUT8(a, b, k, o) \
	VMOVDQU     a(SI), X0; \
	VINSERTI128 $1, b(SI), Y0, Y0; \
	VMOVDQU     a(DI), X1; \
	VINSERTI128 $1, b(DI), Y1, Y1; \
	VPSHUFB     ds65Shuf<>+k(SB), Y0, Y0; \
	VPSHUFB     ds65Shuf<>+k(SB), Y1, Y1; \
	VPMULLW     Y15, Y0, Y0; \
	VPMULLW     Y14, Y1, Y1; \
	VPADDW      Y1, Y0, Y0; \
	VPXOR       Y13, Y0, Y0; \
	VPMADDWD    ds65Wt<>+k(SB), Y0, Y0; \
	VPADDD      Y12, Y0, Y0; \
	VPSHUFB     Y11, Y0, Y0; \
	VPERMD      Y0, Y10, Y0; \
	MOVQ        X0, o(DX)

// func downscaleRowAVX2(out, r0, r1 *byte, blocks int, w0, w1 int)
TEXT ·downscaleRowAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DX
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), DI
	MOVQ blocks+24(FP), CX
	MOVQ w0+32(FP), AX
	MOVQ AX, X15
	VPBROADCASTW X15, Y15
	MOVQ w1+40(FP), AX
	MOVQ AX, X14
	VPBROADCASTW X14, Y14
	MOVL $0x8000, AX
	MOVQ AX, X13
	VPBROADCASTW X13, Y13
	MOVL $0x808000, AX // 2^23 + 2^15
	MOVQ AX, X12
	VPBROADCASTD X12, Y12
	VMOVDQU ds65Byte2<>(SB), Y11
	VMOVDQU ds65Lanes<>(SB), Y10
	TESTQ CX, CX
	JLE   done

loop:
	OUT8(0, 4, 0, 0)
	OUT8(9, 14, 32, 8)
	OUT8(19, 24, 64, 16)
	OUT8(28, 33, 96, 24)
	OUT8(38, 43, 128, 32)
	ADDQ $48, SI
	ADDQ $48, DI
	ADDQ $40, DX
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
