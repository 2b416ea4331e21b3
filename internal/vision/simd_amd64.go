//go:build goexperiment.simd && amd64

package vision

import (
	"math/bits"
	"simd/archsimd"
)

// useSIMD selects the AVX2 kernels (FAST pre-test, pyramid row blend). It is
// fixed at start-up.
var useSIMD = archsimd.X86.AVX2()

// fastPretestSIMD replaces fastPretest with an exact FAST-9 test, 32 pixels
// per step with AVX2, built only with GOEXPERIMENT=simd: it appends only the
// corners (with their side), so fastCorner merely scores them. The compass
// and diagonal pairs reject most steps first; survivors get all 16 circle
// comparisons as one bitmap of the 32 pixels per circle position, and the
// arcs of 9 are found on those bitmaps, 32 pixels per integer operation. It
// returns how many leading pixels it handled: all of them when there are at
// least 32, the ragged end covered by a last step overlapping the previous
// one.
func fastPretestSIMD(win *pixelRows, t int, cand []int32) ([]int32, int) {
	n := len(win[0])
	if n < 32 {
		return cand, 0
	}
	var rows [17][]byte
	for k := range rows {
		rows[k] = win[k][:n]
	}
	c := rows[0]
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
		var bright, dark [16]uint32
		side := func(k int) {
			v := archsimd.LoadUint8x32Slice(rows[1+k][x:])
			bright[k] = v.SubSaturated(tv).Greater(cv).ToBits()
			dark[k] = v.AddSaturated(tv).Less(cv).ToBits()
		}
		side(0)
		side(8)
		side(4)
		side(12)
		b := (bright[0] | bright[8]) & (bright[4] | bright[12])
		d := (dark[0] | dark[8]) & (dark[4] | dark[12])
		if (b|d)&^skip == 0 {
			continue
		}
		side(2)
		side(10)
		side(6)
		side(14)
		b &= (bright[2] | bright[10]) & (bright[6] | bright[14])
		d &= (dark[2] | dark[10]) & (dark[6] | dark[14])
		if (b|d)&^skip == 0 {
			continue
		}
		for _, k := range [...]int{1, 3, 5, 7, 9, 11, 13, 15} {
			side(k)
		}
		b &= arcs9(&bright)
		d &= arcs9(&dark)
		for m := (b | d) &^ skip; m != 0; m &= m - 1 {
			lane := bits.TrailingZeros32(m)
			s := (b>>lane&1 | (d>>lane&1)<<1) << 16
			cand = append(cand, int32(x+lane)|int32(s))
		}
	}
	return cand, n
}

// arcs9 returns the lanes whose 16 circle bits (m[k] holds circle pixel k
// of all 32 lanes) contain 9 contiguous ones, circularly.
func arcs9(m *[16]uint32) uint32 {
	var a2, a4 [16]uint32
	for k := range 16 {
		a2[k] = m[k] & m[(k+1)&15]
	}
	for k := range 16 {
		a4[k] = a2[k] & a2[(k+2)&15]
	}
	var r uint32
	for k := range 16 {
		r |= a4[k] & a4[(k+4)&15] & m[(k+8)&15]
	}
	return r
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
