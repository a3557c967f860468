package web

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"rsc.io/qr/coding"
)

// qrTestURL has the shape and length of a Request Service openid-vc:// URL.
const qrTestURL = "openid-vc://?request_uri=https://verifiedid.did.msidentity.com/v1.0/tenants/" +
	"9c59be8b-bd18-45d9-b9d9-082bc07c094f/verifiableCredentials/presentationRequests/0e3a6bd1-8c8f-4a43-9b7c-4f7c3f3a3d21"

var qrTestURLs = []struct{ name, url string }{
	{"request service URL", qrTestURL},
	{"short", "openid-vc://?request_uri=https://x/y"},
	{"sandbox URL", "openid-vc://?request_uri=https://127.0.0.1:40123/v1.0/tenants/sandbox/verifiableCredentials/presentationRequests/5b0c7c48-64a4-4c1c-9a63-8f0bb86e2f4a"},
}

// decodeQR reads the text of the QR code in img with an independent decoder (ZXing's Go port).
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	require.NoError(t, err)
	return res.GetText()
}

func TestRenderQR(t *testing.T) {
	for _, tt := range qrTestURLs {
		t.Run(tt.name, func(t *testing.T) {
			b, err := renderQR(tt.url)
			require.NoError(t, err)
			img, err := png.Decode(bytes.NewReader(b))
			require.NoError(t, err)
			p, ok := img.(*image.Paletted)
			require.True(t, ok, "a paletted PNG")
			assert.Len(t, p.Palette, 2, "two colours: a 1-bit PNG")

			assert.Equal(t, tt.url, decodeQR(t, img))

			code, err := encodeQR(tt.url)
			require.NoError(t, err)
			side := (code.Size + 2*qrQuietZone) * qrModulePixels
			require.Equal(t, image.Rect(0, 0, side, side), img.Bounds(), "4 px per module, 4-module quiet zone")
			for y := range side {
				for x := range side {
					mx, my := x/qrModulePixels-qrQuietZone, y/qrModulePixels-qrQuietZone
					if want := code.Black(mx, my); (p.ColorIndexAt(x, y) == 1) != want {
						t.Fatalf("pixel (%d,%d): dark=%v, module (%d,%d) dark=%v", x, y, !want, mx, my, want)
					}
				}
			}
		})
	}
}

// TestEncodeQREveryMask checks that each of the 8 masks yields a code an independent decoder reads, so the
// penalty may pick any of them, and that the version matches go-qrcode's for the same URL.
func TestEncodeQREveryMask(t *testing.T) {
	enc := coding.String(qrTestURL)
	ref, err := qrcode.New(qrTestURL, qrcode.Medium)
	require.NoError(t, err)
	refModules := len(ref.Bitmap()) - 2*qrQuietZone
	for mask := range coding.Mask(8) {
		v := coding.Version(coding.MinVersion)
		for enc.Bits(v) > v.DataBytes(coding.M)*8 {
			v++
		}
		code, err := encodeQRMask(enc, v, mask)
		require.NoError(t, err)
		assert.Equal(t, refModules, code.Size, "same version as go-qrcode")
		img := image.NewGray(image.Rect(0, 0, (code.Size+8)*2, (code.Size+8)*2))
		for i := range img.Pix {
			img.Pix[i] = 0xff
		}
		for y := range code.Size {
			for x := range code.Size {
				if code.Black(x, y) {
					for d := range 4 {
						img.Pix[((y+4)*2+d/2)*img.Stride+(x+4)*2+d%2] = 0
					}
				}
			}
		}
		assert.Equal(t, qrTestURL, decodeQR(t, img), "mask %d", mask)
	}
}

func TestQRPenalty(t *testing.T) {
	tests := []struct {
		name string
		rows []string
		want int
	}{
		// 5×5 all light: 5 rows and 5 columns of run 5 (3 each), 16 2×2 blocks (3 each), 0% dark (10×10).
		{"all light", []string{"00000", "00000", "00000", "00000", "00000"}, 10*3 + 16*3 + 100},
		// checkerboard: no runs, no blocks, 52% dark.
		{"checkerboard", []string{"10101", "01010", "10101", "01010", "10101"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(tt.rows)
			c := &coding.Code{Size: n, Stride: (n + 7) / 8}
			c.Bitmap = make([]byte, n*c.Stride)
			for y, r := range tt.rows {
				for x, ch := range r {
					if ch == '1' {
						c.Bitmap[y*c.Stride+x/8] |= 1 << (7 - x%8)
					}
				}
			}
			assert.Equal(t, tt.want, qrPenalty(c))
		})
	}
}

// BenchmarkQR compares, in the same run, the previous rendering (go-qrcode with its BestCompression PNG)
// with renderQR, and splits renderQR between encoding (8 masks and their penalties) and PNG.
func BenchmarkQR(b *testing.B) {
	b.Run("go-qrcode-PNG", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			code, err := qrcode.New(qrTestURL, qrcode.Medium)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := code.PNG(-qrModulePixels); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("renderQR", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := renderQR(qrTestURL); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encodeQR", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeQR(qrTestURL); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		q := newQRCache(16)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := q.png("presentation/x", qrTestURL); err != nil {
				b.Fatal(err)
			}
		}
	})
}
