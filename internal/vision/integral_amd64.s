//go:build !purego

#include "textflag.h"

// func integralAVX2(ii *uint16, pix *byte, s, w, rows, blocks int)
//
// Each row's running sum, 16 pixels per step: a prefix sum within each
// 128-bit half by three shifted adds, the low half's total added to the
// high half, then the running total so far (Y5, all lanes); the row above
// is added last. Wrapping 16-bit sums are what integral stores.
TEXT ·integralAVX2(SB), NOSPLIT, $0-48
	MOVQ ii+0(FP), DI
	MOVQ pix+8(FP), SI
	MOVQ s+16(FP), BX
	SHLQ $1, BX              // bytes per integral-image row
	MOVQ w+24(FP), R8
	MOVQ rows+32(FP), CX
	MOVQ blocks+40(FP), R9
	VMOVDQU intLast<>(SB), Y7
	TESTQ CX, CX
	JLE   done
	TESTQ R9, R9
	JLE   done

row:
	VPXOR Y5, Y5, Y5
	XORQ  AX, AX             // pixel index
	MOVQ  R9, DX

block:
	VPMOVZXBW (SI)(AX*1), Y0
	VPSLLDQ   $2, Y0, Y1
	VPADDW    Y1, Y0, Y0
	VPSLLDQ   $4, Y0, Y1
	VPADDW    Y1, Y0, Y0
	VPSLLDQ   $8, Y0, Y1
	VPADDW    Y1, Y0, Y0
	VPSHUFB    Y7, Y0, Y1    // each half's total, in all its lanes
	VPERM2I128 $0x08, Y1, Y1, Y2 // the low half's, in the high half
	VPADDW     Y2, Y0, Y0
	VPADDW     Y5, Y0, Y0
	VPSHUFB    Y7, Y0, Y1
	VPERM2I128 $0x11, Y1, Y1, Y5 // the new running total
	LEAQ      (DI)(AX*2), R10
	VPADDW    (R10), Y0, Y0
	VMOVDQU   Y0, (R10)(BX*1)
	ADDQ      $16, AX
	DECQ      DX
	JNZ       block

	ADDQ BX, DI
	ADDQ R8, SI
	DECQ CX
	JNZ  row

done:
	VZEROUPPER
	RET

DATA intLast<>+0(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA intLast<>+8(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA intLast<>+16(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA intLast<>+24(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL intLast<>(SB), RODATA|NOPTR, $32
