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

// TestRenderQR: the PNG decodes back to the URL with another decoder, is 1-bit, and draws go-qrcode's
// modules exactly, 4 pixels each, inside a 4-module quiet zone.
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

			code, err := qrcode.New(tt.url, qrcode.Medium)
			require.NoError(t, err)
			code.DisableBorder = true
			modules := code.Bitmap()
			side := (len(modules) + 2*qrQuietZone) * qrModulePixels
			require.Equal(t, image.Rect(0, 0, side, side), img.Bounds())
			for y := range side {
				for x := range side {
					mx, my := x/qrModulePixels-qrQuietZone, y/qrModulePixels-qrQuietZone
					want := mx >= 0 && my >= 0 && mx < len(modules) && my < len(modules) && modules[my][mx]
					if (p.ColorIndexAt(x, y) == 1) != want {
						t.Fatalf("pixel (%d,%d) does not match module (%d,%d)", x, y, mx, my)
					}
				}
			}
		})
	}
}

// BenchmarkQR compares, in one run, go-qrcode's own PNG (BestCompression) and its encoder alone (the floor
// any render with it pays) with renderQR, and the cache.
func BenchmarkQR(b *testing.B) {
	b.Run("go-qrcode-encoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			code, err := qrcode.New(qrTestURL, qrcode.Medium)
			if err != nil {
				b.Fatal(err)
			}
			code.DisableBorder = true
			_ = code.Bitmap()
		}
	})
	b.Run("go-qrcode-PNG", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := qrcode.Encode(qrTestURL, qrcode.Medium, 260); err != nil {
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
	b.Run("cached", func(b *testing.B) {
		q := newQRCache(16)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := q.png("k", qrTestURL); err != nil {
				b.Fatal(err)
			}
		}
	})
}
