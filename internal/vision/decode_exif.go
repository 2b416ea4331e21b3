package vision

import (
	"encoding/binary"
	"image"
)

// exifOrientation returns the EXIF orientation (1–8) of a JPEG, or 1 when
// there is none or the metadata is malformed. Phones commonly store frames
// in sensor orientation and rely on this tag, so ignoring it would hand the
// recognizer a sideways picture; but a broken tag must never fail a decode.
func exifOrientation(data []byte) int {
	// Walk marker segments from SOI until the first scan; APP1 must precede it.
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return 1
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01:
			i += 2 // standalone markers carry no length
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image
			return 1
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return 1
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			if o := tiffOrientation(seg[6:]); o != 0 {
				return o
			}
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure, or 0.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := uint64(bo.Uint32(t[4:]))
	if off+2 > uint64(len(t)) {
		return 0
	}
	count := uint64(bo.Uint16(t[off:]))
	entries := off + 2
	if entries+12*count > uint64(len(t)) {
		return 0
	}
	for k := uint64(0); k < count; k++ {
		e := t[entries+12*k : entries+12*k+12]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		// SHORT (type 3), count 1: the value sits left-aligned in the
		// 4-byte value field. Some writers use LONG; accept that too.
		var v uint32
		switch bo.Uint16(e[2:]) {
		case 3:
			v = uint32(bo.Uint16(e[8:]))
		case 4:
			v = bo.Uint32(e[8:])
		default:
			return 0
		}
		if v >= 1 && v <= 8 {
			return int(v)
		}
		return 0
	}
	return 0
}

// orient returns img as it should be displayed under EXIF orientation o.
// For each output pixel (x, y) it reads the stored pixel given by the
// orientation's definition (TIFF 6.0 / EXIF 2.3, tag 0x0112):
//
//	1 as stored            5 transpose (x,y)->(y,x)
//	2 mirrored left-right  6 rotated 90° clockwise
//	3 rotated 180°         7 transverse (anti-diagonal mirror)
//	4 mirrored top-bottom  8 rotated 90° counter-clockwise
func orient(img *image.Gray, o int) *image.Gray {
	if o <= 1 || o > 8 {
		return img
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	dst := image.NewGray(image.Rect(0, 0, ow, oh))
	src := img.Pix
	ss := img.Stride
	for y := 0; y < oh; y++ {
		row := dst.Pix[y*ow : (y+1)*ow]
		switch o {
		case 2:
			s := src[y*ss : y*ss+w]
			for x := range row {
				row[x] = s[w-1-x]
			}
		case 3:
			s := src[(h-1-y)*ss : (h-1-y)*ss+w]
			for x := range row {
				row[x] = s[w-1-x]
			}
		case 4:
			copy(row, src[(h-1-y)*ss:(h-1-y)*ss+w])
		case 5: // out(x,y) = in(y, x)
			for x := range row {
				row[x] = src[x*ss+y]
			}
		case 6: // out(x,y) = in(y, h-1-x)
			for x := range row {
				row[x] = src[(h-1-x)*ss+y]
			}
		case 7: // out(x,y) = in(w-1-y, h-1-x)
			for x := range row {
				row[x] = src[(h-1-x)*ss+w-1-y]
			}
		case 8: // out(x,y) = in(w-1-y, x)
			for x := range row {
				row[x] = src[x*ss+w-1-y]
			}
		}
	}
	return dst
}
