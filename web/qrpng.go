package web

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"io"
)

// qrPNG returns modules as a 1-bit indexed PNG (index 0 white, 1 black) with qrModulePixels per module inside
// a qrQuietZone border. It writes the rows itself (PNG, ISO/IEC 15948: filter byte 0, then 8 pixels a byte,
// most significant first) rather than through image/png, which asks a 1-bit image for each pixel through
// an interface call: 15–20 % of a render, on top of go-qrcode's encoder (BENCHMARKS.md).
func qrPNG(modules [][]bool) ([]byte, error) {
	side := (len(modules) + 2*qrQuietZone) * qrModulePixels
	stride := 1 + (side+7)/8
	raw := make([]byte, stride*side)
	for y, row := range modules {
		top := (y + qrQuietZone) * qrModulePixels * stride
		line := raw[top+1 : top+stride]
		for x, dark := range row {
			if dark {
				for px := (x + qrQuietZone) * qrModulePixels; px < (x+qrQuietZone+1)*qrModulePixels; px++ {
					line[px/8] |= 0x80 >> (px % 8)
				}
			}
		}
		for i := 1; i < qrModulePixels; i++ { // a module's other pixel rows repeat its first
			copy(raw[top+i*stride:top+(i+1)*stride], raw[top:top+stride])
		}
	}

	var idat bytes.Buffer
	zw := qrDeflaters.get(&idat)
	_, err := zw.Write(raw)
	if err == nil {
		err = zw.Close()
	}
	qrDeflaters.put(zw)
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	b.Grow(idat.Len() + 80)
	b.WriteString("\x89PNG\r\n\x1a\n")
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(side))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(side))
	ihdr[8], ihdr[9] = 1, 3 // bit depth 1, colour type 3 (indexed); deflate, adaptive filtering, no interlace
	pngChunk(&b, "IHDR", ihdr[:])
	pngChunk(&b, "PLTE", []byte{0xff, 0xff, 0xff, 0, 0, 0})
	pngChunk(&b, "IDAT", idat.Bytes())
	pngChunk(&b, "IEND", nil)
	return b.Bytes(), nil
}

// pngChunk appends a chunk: length, type, data, CRC-32 of type and data.
func pngChunk(b *bytes.Buffer, typ string, data []byte) {
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(data))))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.Update(crc32.ChecksumIEEE([]byte(typ)), crc32.IEEETable, data)
	b.Write(binary.BigEndian.AppendUint32(nil, crc))
}

// qrDeflaters keeps two zlib writers (about 1.2 MB each, mostly deflate's tables) between renders; renders
// happen once per request. Unlike a sync.Pool it is not emptied by garbage collection, which go-qrcode's own
// garbage triggers every few renders: a fresh writer costs 0.1–0.15 ms to allocate and zero.
var qrDeflaters = make(deflaterPool, 2)

type deflaterPool chan *zlib.Writer

// get returns a BestSpeed writer to w (go-qrcode's own PNG uses BestCompression, which costs more than the
// QR code itself for a few hundred bytes saved).
func (p deflaterPool) get(w io.Writer) *zlib.Writer {
	select {
	case z := <-p:
		z.Reset(w)
		return z
	default:
		z, _ := zlib.NewWriterLevel(w, zlib.BestSpeed) // only fails for an invalid level
		return z
	}
}

func (p deflaterPool) put(z *zlib.Writer) {
	select {
	case p <- z:
	default:
	}
}
