//go:build !purego

#include "textflag.h"

// HROWS adds the gradient products of two window rows, one per 128-bit
// half: m1 and m2 point at the rows' centres, u1, u2 and d1, d2 at the
// rows above and below them; mask keeps the 7 columns of each half that
// belong to the window (the 8th word of each is outside it).
#define HROWS(m1, m2, u1, u2, d1, d2, mask) \
	MOVQ       -2(m1), X0; \
	VPINSRQ    $1, -2(m2), X0, X0; \
	VPMOVZXBW  X0, Y0; \
	MOVQ       -4(m1), X1; \
	VPINSRQ    $1, -4(m2), X1, X1; \
	VPMOVZXBW  X1, Y1; \
	MOVQ       -3(d1), X2; \
	VPINSRQ    $1, -3(d2), X2, X2; \
	VPMOVZXBW  X2, Y2; \
	MOVQ       -3(u1), X3; \
	VPINSRQ    $1, -3(u2), X3, X3; \
	VPMOVZXBW  X3, Y3; \
	VPSUBW     Y1, Y0, Y0; \
	VPAND      mask, Y0, Y0; \
	VPSUBW     Y3, Y2, Y2; \
	VPAND      mask, Y2, Y2; \
	VPMADDWD   Y0, Y0, Y4; \
	VPADDD     Y4, Y8, Y8; \
	VPMADDWD   Y2, Y2, Y5; \
	VPADDD     Y5, Y9, Y9; \
	VPMADDWD   Y2, Y0, Y6; \
	VPADDD     Y6, Y10, Y10

// HSUM leaves the sum of the 32-bit lanes of y (x its lower half) in the
// low lane of x.
#define HSUM(y, x) \
	VEXTRACTI128 $1, y, X1; \
	VPADDD       X1, x, x; \
	VPSHUFD      $0x4e, x, X1; \
	VPADDD       X1, x, x; \
	VPSHUFD      $0xb1, x, X1; \
	VPADDD       X1, x, x

// func harrisAVX2(p *byte, w int) (a, b, c int)
//
// The sums of harris, two window rows per step in 16-bit lanes, VPMADDWD
// multiplying and adding pairs of columns into 32-bit sums.
TEXT ·harrisAVX2(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), SI
	MOVQ w+8(FP), BX
	MOVQ SI, DI
	SUBQ BX, DI          // row -1
	MOVQ DI, DX
	SUBQ BX, DX          // -2
	MOVQ DX, CX
	SUBQ BX, CX          // -3
	MOVQ CX, AX
	SUBQ BX, AX          // -4
	LEAQ (SI)(BX*1), R8  // +1
	LEAQ (R8)(BX*1), R9  // +2
	LEAQ (R9)(BX*1), R10 // +3
	LEAQ (R10)(BX*1), R11 // +4
	VPXOR   Y8, Y8, Y8
	VPXOR   Y9, Y9, Y9
	VPXOR   Y10, Y10, Y10
	VMOVDQU harrisCols<>(SB), Y11
	VMOVDQU harrisCols<>+32(SB), Y12
	HROWS(CX, DX, AX, CX, DX, DI, Y11)
	HROWS(DI, SI, DX, DI, SI, R8, Y11)
	HROWS(R8, R9, SI, R8, R9, R10, Y11)
	HROWS(R10, R10, R9, R9, R11, R11, Y12) // the last row, alone
	HSUM(Y8, X8)
	HSUM(Y9, X9)
	HSUM(Y10, X10)
	MOVL    X8, AX
	MOVQ    AX, a+16(FP)
	MOVL    X9, AX
	MOVQ    AX, b+24(FP)
	MOVL    X10, AX
	MOVLQSX AX, AX
	MOVQ    AX, c+32(FP)
	VZEROUPPER
	RET

// The 7 window columns of both halves, then of the low half only.
DATA harrisCols<>+0(SB)/8, $0xffffffffffffffff
DATA harrisCols<>+8(SB)/8, $0x0000ffffffffffff
DATA harrisCols<>+16(SB)/8, $0xffffffffffffffff
DATA harrisCols<>+24(SB)/8, $0x0000ffffffffffff
DATA harrisCols<>+32(SB)/8, $0xffffffffffffffff
DATA harrisCols<>+40(SB)/8, $0x0000ffffffffffff
DATA harrisCols<>+48(SB)/8, $0
DATA harrisCols<>+56(SB)/8, $0
GLOBL harrisCols<>(SB), RODATA|NOPTR, $64
