//go:build !purego

package vision

// The AVX2 kernels. Each takes raw pointers and trusts its Go caller (in the
// file of the code it speeds up) to have checked that every load and store
// lies inside the slices; the callers run them only when useAVX2 is set.

// fastExactAVX2 runs the exact FAST-9 test at threshold t on the n pixels
// from c on (n a positive multiple of 32; rows w apart) and writes the
// corners to cand as index | score<<16 (the score of fastCorner), in
// order, returning how many. It reads from 3 rows and 1 pixel before c to 3
// rows and n+1 pixels after it.
//
//go:noescape
func fastExactAVX2(c *byte, w, n, t int, cand *int32) int

// downscaleRowAVX2 writes 40*blocks outputs of the 1.2 downscale to out
// from source rows r0 and r1 blended with weights w0 and w1 (see
// downscale6to5). Block j uses source columns 48j to 48j+47 and reads up to
// column 48j+58.
//
//go:noescape
func downscaleRowAVX2(out, r0, r1 *byte, blocks int, w0, w1 int)

// boxImageAVX2 sets box[y*s+x] to the sum of the 5x5 box with top-left
// integral-image index y*s+x, read from the wrapping integral image ii
// (stride s), for y < rows and x < cols; cols is at least 16. box and ii
// point at the same index.
//
//go:noescape
func boxImageAVX2(box, ii *uint16, s, rows, cols int)

// comparePairsAVX2 runs the 256 descriptor tests on the box sums at the
// offsets from box given by pairs (the two points of each test in turn)
// and stores the bits in desc.
//
//go:noescape
func comparePairsAVX2(box *uint16, pairs *int32, desc *[4]uint64)

// integralAVX2 fills rows rows of the integral image, each from the row
// above: with ii at the first entry of the row above and pix at the first
// pixel of the first row (strides s and w), ii[s+x] = ii[x] + the sum of
// pix[0..x] for x < 16*blocks, row after row.
//
//go:noescape
func integralAVX2(ii *uint16, pix *byte, s, w, rows, blocks int)

// harrisAVX2 returns the gradient sums of harris for the pixel at p (rows
// w apart). It reads from 4 rows and 4 pixels before p to 4 rows and 5
// pixels after it.
//
//go:noescape
func harrisAVX2(p *byte, w int) (a, b, c int)
