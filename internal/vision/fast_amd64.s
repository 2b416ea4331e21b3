//go:build !purego

#include "textflag.h"

// The FAST-9 test of 32 pixels per step; see fastExact in asm_amd64.go.
//
// Pixels are compared as signed bytes after flipping their high bits (AVX2
// has no unsigned byte compare): q > c+t exactly when q^0x80 > sat(c+t)^0x80,
// where a saturated c+t (no q can pass) stays at 255; the dark side is the
// same with sat(c-t) at 0. Each circle position becomes one vector of bytes
// holding 0x80 where that pixel is brighter and 0x01 where it is darker (never
// both), so the two sides share every AND and OR of the arc test.
//
// Registers: R8 row y-3 and R9 row y at the step's first pixel, BX the
// stride, R10 three strides, DX the step's index, CX n, DI the next output.
// Y15 holds 0x80 in every byte, Y13 t, Y12 and Y11 the flipped bright and
// dark bounds of the step's centres, Y10 is scratch.

// SIDES sets dst to the side bytes of the 32 circle pixels at addr.
#define SIDES(addr, dst) \
	VPXOR    addr, Y15, dst; \
	VPCMPGTB Y12, dst, Y10; \
	VPCMPGTB dst, Y11, dst; \
	VPAND    Y15, Y10, Y10; \
	VPSUBB   dst, Y10, dst

// A4 sets dst to the AND of the side bytes of four consecutive circle
// positions, stored at a, b, c and d on the stack.
#define A4(a, b, c, d, dst) \
	VMOVDQU a(SP), dst; \
	VPAND   b(SP), dst, dst; \
	VPAND   c(SP), dst, dst; \
	VPAND   d(SP), dst, dst

// ARC9 adds to Y14 the arcs of 9 starting at one circle position: the ANDs of
// the 4 positions from there (ra), of the 4 after them (rb), and of the
// position after those, on the stack at m.
#define ARC9(ra, rb, m) \
	VPAND ra, rb, Y12; \
	VPAND m(SP), Y12, Y12; \
	VPOR  Y12, Y14, Y14

// EXCESS adds the excess of the circle pixels at addr over the bound Y2,
// those of dark corners inverted by Y1, to the 16-bit sums Y4 and Y5.
#define EXCESS(addr) \
	VPXOR      addr, Y1, Y0; \
	VPSUBUSB   Y2, Y0, Y0; \
	VPUNPCKLBW Y3, Y0, Y6; \
	VPUNPCKHBW Y3, Y0, Y7; \
	VPADDW     Y6, Y4, Y4; \
	VPADDW     Y7, Y5, Y5

DATA fastOnes<>+0(SB)/8, $0x0101010101010101
DATA fastOnes<>+8(SB)/8, $0x0101010101010101
DATA fastOnes<>+16(SB)/8, $0x0101010101010101
DATA fastOnes<>+24(SB)/8, $0x0101010101010101
GLOBL fastOnes<>(SB), RODATA|NOPTR, $32

// func fastExactAVX2(c *byte, w, n, t int, cand *int32) int
TEXT ·fastExactAVX2(SB), NOSPLIT, $576-48
	MOVQ c+0(FP), R9
	MOVQ w+8(FP), BX
	MOVQ n+16(FP), CX
	MOVQ cand+32(FP), DI
	LEAQ (BX)(BX*2), R10
	MOVQ R9, R8
	SUBQ R10, R8
	MOVL $0x80, AX
	MOVQ AX, X15
	VPBROADCASTB X15, Y15
	MOVQ t+24(FP), AX
	MOVQ AX, X13
	VPBROADCASTB X13, Y13
	XORQ DX, DX
	TESTQ CX, CX
	JLE  done

loop:
	VMOVDQU  (R9), Y0
	VPADDUSB Y13, Y0, Y12
	VPSUBUSB Y13, Y0, Y11
	VPXOR    Y15, Y12, Y12
	VPXOR    Y15, Y11, Y11

	// The compass pairs: an arc of 9 holds one of every two opposite
	// positions, and most steps have no pixel passing both pairs.
	SIDES(0(R8), Y0)        // circle 0
	SIDES(0(R9)(R10*1), Y1) // 8
	SIDES(3(R9), Y2)        // 4
	SIDES(-3(R9), Y3)       // 12
	VPOR    Y0, Y1, Y4
	VPOR    Y2, Y3, Y5
	VPAND   Y5, Y4, Y4
	VPTEST  Y4, Y4
	JZ      next
	VMOVDQU Y0, 0(SP)
	VMOVDQU Y1, 256(SP)
	VMOVDQU Y2, 128(SP)
	VMOVDQU Y3, 384(SP)

	// The diagonal pairs.
	SIDES(2(R8)(BX*1), Y0)  // 2
	SIDES(-2(R9)(BX*2), Y1) // 10
	SIDES(2(R9)(BX*2), Y2)  // 6
	SIDES(-2(R8)(BX*1), Y3) // 14
	VPOR    Y0, Y1, Y5
	VPOR    Y2, Y3, Y6
	VPAND   Y5, Y4, Y4
	VPAND   Y6, Y4, Y4
	VPTEST  Y4, Y4
	JZ      next
	VMOVDQU Y0, 64(SP)
	VMOVDQU Y1, 320(SP)
	VMOVDQU Y2, 192(SP)
	VMOVDQU Y3, 448(SP)

	SIDES(1(R8), Y0)          // 1
	SIDES(3(R8)(BX*2), Y1)    // 3
	SIDES(3(R9)(BX*1), Y2)    // 5
	SIDES(1(R9)(R10*1), Y3)   // 7
	SIDES(-1(R9)(R10*1), Y4)  // 9
	SIDES(-3(R9)(BX*1), Y5)   // 11
	SIDES(-3(R8)(BX*2), Y6)   // 13
	SIDES(-1(R8), Y7)         // 15
	VMOVDQU Y0, 32(SP)
	VMOVDQU Y1, 96(SP)
	VMOVDQU Y2, 160(SP)
	VMOVDQU Y3, 224(SP)
	VMOVDQU Y4, 288(SP)
	VMOVDQU Y5, 352(SP)
	VMOVDQU Y6, 416(SP)
	VMOVDQU Y7, 480(SP)

	// Arcs of 9 from each position k: a4[k] & a4[k+4] & m[k+8]. a4[0..11]
	// live in Y0..Y11; a4[12..15] replace a4[4..7] once those are used up.
	A4(0, 32, 64, 96, Y0)
	A4(32, 64, 96, 128, Y1)
	A4(64, 96, 128, 160, Y2)
	A4(96, 128, 160, 192, Y3)
	A4(128, 160, 192, 224, Y4)
	A4(160, 192, 224, 256, Y5)
	A4(192, 224, 256, 288, Y6)
	A4(224, 256, 288, 320, Y7)
	A4(256, 288, 320, 352, Y8)
	A4(288, 320, 352, 384, Y9)
	A4(320, 352, 384, 416, Y10)
	A4(352, 384, 416, 448, Y11)
	VPAND Y0, Y4, Y14
	VPAND 256(SP), Y14, Y14
	ARC9(Y1, Y5, 288)
	ARC9(Y2, Y6, 320)
	ARC9(Y3, Y7, 352)
	ARC9(Y4, Y8, 384)
	A4(384, 416, 448, 480, Y4) // a4[12]
	ARC9(Y5, Y9, 416)
	A4(416, 448, 480, 0, Y5)   // a4[13]
	ARC9(Y6, Y10, 448)
	A4(448, 480, 0, 32, Y6)    // a4[14]
	ARC9(Y7, Y11, 480)
	A4(480, 0, 32, 64, Y7)     // a4[15]
	ARC9(Y8, Y4, 0)
	ARC9(Y9, Y5, 32)
	ARC9(Y10, Y6, 64)
	ARC9(Y11, Y7, 96)
	ARC9(Y4, Y0, 128)
	ARC9(Y5, Y1, 160)
	ARC9(Y6, Y2, 192)
	ARC9(Y7, Y3, 224)

	// Bit 7 of a byte marks a bright corner, bit 0 a dark one.
	VPMOVMSKB Y14, AX
	VPSLLW    $7, Y14, Y0
	VPMOVMSKB Y0, R11
	ORL       R11, AX
	JZ        next

	// The scores: the summed excess over t of the circle pixels on the
	// corner's side. Dark lanes work on inverted pixels, where the excess
	// is that of the bright side: (255-q) - (255-c+t) = c-t-q. Both
	// saturations give 0 exactly where a pixel does not count.
	VPCMPEQB  fastOnes<>(SB), Y14, Y1 // inverts dark corners
	VMOVDQU   (R9), Y2
	VPXOR     Y1, Y2, Y2
	VPADDUSB  Y13, Y2, Y2             // bound
	VPXOR     Y3, Y3, Y3              // zero
	VPXOR     Y4, Y4, Y4              // sums of pixels 0-7 and 16-23
	VPXOR     Y5, Y5, Y5              // 8-15 and 24-31
	EXCESS(0(R8))
	EXCESS(1(R8))
	EXCESS(2(R8)(BX*1))
	EXCESS(3(R8)(BX*2))
	EXCESS(3(R9))
	EXCESS(3(R9)(BX*1))
	EXCESS(2(R9)(BX*2))
	EXCESS(1(R9)(R10*1))
	EXCESS(0(R9)(R10*1))
	EXCESS(-1(R9)(R10*1))
	EXCESS(-2(R9)(BX*2))
	EXCESS(-3(R9)(BX*1))
	EXCESS(-3(R9))
	EXCESS(-3(R8)(BX*2))
	EXCESS(-2(R8)(BX*1))
	EXCESS(-1(R8))
	VPERM2I128 $0x20, Y5, Y4, Y6      // pixels 0-15
	VPERM2I128 $0x31, Y5, Y4, Y7      // 16-31
	VMOVDQU    Y6, 512(SP)
	VMOVDQU    Y7, 544(SP)

	// Corners are x | score<<16.
emit:
	BSFL    AX, R12
	MOVWLZX 512(SP)(R12*2), R13
	SHLL    $16, R13
	ADDL    DX, R12
	ORL     R13, R12
	MOVL    R12, (DI)
	ADDQ    $4, DI
	LEAL    -1(AX), R13
	ANDL    R13, AX
	JNZ     emit

next:
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, DX
	CMPQ DX, CX
	JLT  loop

done:
	SUBQ cand+32(FP), DI
	SHRQ $2, DI
	MOVQ DI, ret+40(FP)
	VZEROUPPER
	RET
