//go:build goexperiment.simd && amd64

package vision

import (
	"math/bits"
	"simd/archsimd"
)

// useSIMD selects the AVX2 kernels (FAST pre-test, pyramid row blend). It is
// fixed at start-up.
var useSIMD = archsimd.X86.AVX2()

// fastPretestSIMD is fastPretest for 32 pixels per step with AVX2, built
// only with GOEXPERIMENT=simd. Its comparisons are exact (saturating
// arithmetic instead of halved values), so it passes fewer pixels than the
// SWAR pre-test, never a corner less. It returns how many leading pixels it
// handled: all of them when there are at least 32, the ragged end covered by
// a last step overlapping the previous one.
func fastPretestSIMD(win *[9][]byte, t int, cand []int32) ([]int32, int) {
	n := len(win[0])
	if n < 32 {
		return cand, 0
	}
	c, p0, p8, p4, p12 := win[0][:n], win[1][:n], win[2][:n], win[3][:n], win[4][:n]
	p2, p10, p6, p14 := win[5][:n], win[6][:n], win[7][:n], win[8][:n]
	tv := archsimd.BroadcastUint8x32(uint8(t))
	var skip uint32 // lanes of an overlapping last step already tested
	for x := 0; x < n; x += 32 {
		if x+32 > n {
			skip = 1<<(x-(n-32)) - 1
			x = n - 32
		}
		cv := archsimd.LoadUint8x32Slice(c[x:])
		// p > c+t exactly when p-t > c without wrap-around, and p < c-t
		// when p+t < c; saturation keeps both exact at the ends.
		v0, v8 := archsimd.LoadUint8x32Slice(p0[x:]), archsimd.LoadUint8x32Slice(p8[x:])
		v4, v12 := archsimd.LoadUint8x32Slice(p4[x:]), archsimd.LoadUint8x32Slice(p12[x:])
		b := v0.SubSaturated(tv).Greater(cv).Or(v8.SubSaturated(tv).Greater(cv)).
			And(v4.SubSaturated(tv).Greater(cv).Or(v12.SubSaturated(tv).Greater(cv)))
		d := v0.AddSaturated(tv).Less(cv).Or(v8.AddSaturated(tv).Less(cv)).
			And(v4.AddSaturated(tv).Less(cv).Or(v12.AddSaturated(tv).Less(cv)))
		if b.ToBits()|d.ToBits() == 0 {
			continue
		}
		v2, v10 := archsimd.LoadUint8x32Slice(p2[x:]), archsimd.LoadUint8x32Slice(p10[x:])
		v6, v14 := archsimd.LoadUint8x32Slice(p6[x:]), archsimd.LoadUint8x32Slice(p14[x:])
		bm := b.And(v2.SubSaturated(tv).Greater(cv).Or(v10.SubSaturated(tv).Greater(cv))).
			And(v6.SubSaturated(tv).Greater(cv).Or(v14.SubSaturated(tv).Greater(cv))).ToBits()
		dm := d.And(v2.AddSaturated(tv).Less(cv).Or(v10.AddSaturated(tv).Less(cv))).
			And(v6.AddSaturated(tv).Less(cv).Or(v14.AddSaturated(tv).Less(cv))).ToBits()
		for m := (bm | dm) &^ skip; m != 0; m &= m - 1 {
			lane := bits.TrailingZeros32(m)
			side := (bm>>lane&1 | (dm>>lane&1)<<1) << 16
			cand = append(cand, int32(x+lane)|int32(side))
		}
	}
	return cand, n
}

// blendRowsSIMD stores a*w0 + b*w1 for the leading multiple of 16 pixels of
// rows a and b into v (see downscale6to5) and returns how many that is.
func blendRowsSIMD(v []uint16, a, b []byte, w0, w1 uint16) int {
	n := len(a) &^ 15
	a, b, v = a[:n], b[:n], v[:n]
	v0, v1 := archsimd.BroadcastUint16x16(w0), archsimd.BroadcastUint16x16(w1)
	for x := 0; x+16 <= n; x += 16 {
		p := archsimd.LoadUint8x16Slice(a[x:]).ExtendToUint16().Mul(v0)
		q := archsimd.LoadUint8x16Slice(b[x:]).ExtendToUint16().Mul(v1)
		p.Add(q).StoreSlice(v[x:])
	}
	return n
}
