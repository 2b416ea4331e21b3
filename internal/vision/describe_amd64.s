//go:build !purego

#include "textflag.h"

// func boxImageAVX2(box, ii *uint16, s, rows, cols int)
//
// 16 box sums per step from four unaligned loads of the integral image;
// wrapping 16-bit arithmetic is exact because a box sums to less than 2^16.
// The ragged end of a row is a last step overlapping the previous one.
TEXT ·boxImageAVX2(SB), NOSPLIT, $0-40
	MOVQ box+0(FP), DI
	MOVQ ii+8(FP), SI
	MOVQ s+16(FP), BX
	MOVQ rows+24(FP), CX
	MOVQ cols+32(FP), DX
	SHLQ $1, BX                // bytes per row
	LEAQ (BX)(BX*4), R10
	ADDQ SI, R10               // five rows below
	LEAQ -32(DX)(DX*1), R9     // the last step's offset
	TESTQ CX, CX
	JLE   done

row:
	XORQ AX, AX

col:
	VMOVDQU (SI)(AX*1), Y0
	VPSUBW  10(SI)(AX*1), Y0, Y0
	VPSUBW  (R10)(AX*1), Y0, Y0
	VPADDW  10(R10)(AX*1), Y0, Y0
	VMOVDQU Y0, (DI)(AX*1)
	CMPQ    AX, R9
	JGE     rowdone
	ADDQ    $32, AX
	CMPQ    AX, R9
	JLE     col
	MOVQ    R9, AX
	JMP     col

rowdone:
	ADDQ BX, SI
	ADDQ BX, DI
	ADDQ BX, R10
	DECQ CX
	JNZ  row

done:
	VZEROUPPER
	RET

// PAIR shifts into acc the test whose point offsets (in elements) are at a
// and b: 1 when the first box sum is below the second, which CMPW leaves
// in the carry.
#define PAIR(a, b, acc) \
	MOVLQSX a(DI), R8; \
	MOVLQSX b(DI), R9; \
	MOVWLZX (SI)(R8*2), R8; \
	CMPW    R8, (SI)(R9*2); \
	ADCQ    acc, acc

// func comparePairsAVX2(box *uint16, pairs *int32, desc *[4]uint64)
//
// Scalar code (it needs no AVX2, but box sums come only from boxImageAVX2):
// each word is built by shifting in its tests from the last, and two words
// at once keep two independent carry chains going.
TEXT ·comparePairsAVX2(SB), NOSPLIT, $0-24
	MOVQ box+0(FP), SI
	MOVQ pairs+8(FP), DI
	MOVQ desc+16(FP), DX
	MOVL $2, CX

words:
	XORL AX, AX
	XORL BX, BX
	PAIR(504, 508, AX)
	PAIR(1016, 1020, BX)
	PAIR(496, 500, AX)
	PAIR(1008, 1012, BX)
	PAIR(488, 492, AX)
	PAIR(1000, 1004, BX)
	PAIR(480, 484, AX)
	PAIR(992, 996, BX)
	PAIR(472, 476, AX)
	PAIR(984, 988, BX)
	PAIR(464, 468, AX)
	PAIR(976, 980, BX)
	PAIR(456, 460, AX)
	PAIR(968, 972, BX)
	PAIR(448, 452, AX)
	PAIR(960, 964, BX)
	PAIR(440, 444, AX)
	PAIR(952, 956, BX)
	PAIR(432, 436, AX)
	PAIR(944, 948, BX)
	PAIR(424, 428, AX)
	PAIR(936, 940, BX)
	PAIR(416, 420, AX)
	PAIR(928, 932, BX)
	PAIR(408, 412, AX)
	PAIR(920, 924, BX)
	PAIR(400, 404, AX)
	PAIR(912, 916, BX)
	PAIR(392, 396, AX)
	PAIR(904, 908, BX)
	PAIR(384, 388, AX)
	PAIR(896, 900, BX)
	PAIR(376, 380, AX)
	PAIR(888, 892, BX)
	PAIR(368, 372, AX)
	PAIR(880, 884, BX)
	PAIR(360, 364, AX)
	PAIR(872, 876, BX)
	PAIR(352, 356, AX)
	PAIR(864, 868, BX)
	PAIR(344, 348, AX)
	PAIR(856, 860, BX)
	PAIR(336, 340, AX)
	PAIR(848, 852, BX)
	PAIR(328, 332, AX)
	PAIR(840, 844, BX)
	PAIR(320, 324, AX)
	PAIR(832, 836, BX)
	PAIR(312, 316, AX)
	PAIR(824, 828, BX)
	PAIR(304, 308, AX)
	PAIR(816, 820, BX)
	PAIR(296, 300, AX)
	PAIR(808, 812, BX)
	PAIR(288, 292, AX)
	PAIR(800, 804, BX)
	PAIR(280, 284, AX)
	PAIR(792, 796, BX)
	PAIR(272, 276, AX)
	PAIR(784, 788, BX)
	PAIR(264, 268, AX)
	PAIR(776, 780, BX)
	PAIR(256, 260, AX)
	PAIR(768, 772, BX)
	PAIR(248, 252, AX)
	PAIR(760, 764, BX)
	PAIR(240, 244, AX)
	PAIR(752, 756, BX)
	PAIR(232, 236, AX)
	PAIR(744, 748, BX)
	PAIR(224, 228, AX)
	PAIR(736, 740, BX)
	PAIR(216, 220, AX)
	PAIR(728, 732, BX)
	PAIR(208, 212, AX)
	PAIR(720, 724, BX)
	PAIR(200, 204, AX)
	PAIR(712, 716, BX)
	PAIR(192, 196, AX)
	PAIR(704, 708, BX)
	PAIR(184, 188, AX)
	PAIR(696, 700, BX)
	PAIR(176, 180, AX)
	PAIR(688, 692, BX)
	PAIR(168, 172, AX)
	PAIR(680, 684, BX)
	PAIR(160, 164, AX)
	PAIR(672, 676, BX)
	PAIR(152, 156, AX)
	PAIR(664, 668, BX)
	PAIR(144, 148, AX)
	PAIR(656, 660, BX)
	PAIR(136, 140, AX)
	PAIR(648, 652, BX)
	PAIR(128, 132, AX)
	PAIR(640, 644, BX)
	PAIR(120, 124, AX)
	PAIR(632, 636, BX)
	PAIR(112, 116, AX)
	PAIR(624, 628, BX)
	PAIR(104, 108, AX)
	PAIR(616, 620, BX)
	PAIR(96, 100, AX)
	PAIR(608, 612, BX)
	PAIR(88, 92, AX)
	PAIR(600, 604, BX)
	PAIR(80, 84, AX)
	PAIR(592, 596, BX)
	PAIR(72, 76, AX)
	PAIR(584, 588, BX)
	PAIR(64, 68, AX)
	PAIR(576, 580, BX)
	PAIR(56, 60, AX)
	PAIR(568, 572, BX)
	PAIR(48, 52, AX)
	PAIR(560, 564, BX)
	PAIR(40, 44, AX)
	PAIR(552, 556, BX)
	PAIR(32, 36, AX)
	PAIR(544, 548, BX)
	PAIR(24, 28, AX)
	PAIR(536, 540, BX)
	PAIR(16, 20, AX)
	PAIR(528, 532, BX)
	PAIR(8, 12, AX)
	PAIR(520, 524, BX)
	PAIR(0, 4, AX)
	PAIR(512, 516, BX)
	MOVQ AX, 0(DX)
	MOVQ BX, 8(DX)
	ADDQ $1024, DI
	ADDQ $16, DX
	DECL CX
	JNZ  words
	RET
