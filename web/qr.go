package web

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"runtime"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/skip2/go-qrcode"
	"golang.org/x/sync/singleflight"
)

// qrCache renders each request's QR code once and keeps a bounded number of them; a QR code is a pure
// function of its URL, so every replica may render its own.
type qrCache struct {
	max int
	sf  singleflight.Group

	mu   sync.Mutex
	pngs map[string][]byte
}

func newQRCache(max int) *qrCache { return &qrCache{max: max, pngs: map[string][]byte{}} }

// serveQR answers the QR code of url, rendered once and cached under key; 410 once the record has expired.
func (s *Server) serveQR(c *gin.Context, key, url string, expired bool) {
	if expired {
		writeError(c, errExpired)
		return
	}
	png, err := s.qr.png(key, url)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "image/png", png)
}

// png returns the PNG of url, cached under key.
func (q *qrCache) png(key, url string) ([]byte, error) {
	q.mu.Lock()
	b, ok := q.pngs[key]
	q.mu.Unlock()
	if ok {
		return b, nil
	}
	v, err, _ := q.sf.Do(key, func() (any, error) {
		b, err := renderQR(url)
		if err != nil {
			return nil, err
		}
		q.mu.Lock()
		if len(q.pngs) >= q.max {
			for k := range q.pngs { // evict an arbitrary entry: a miss only costs a re-render
				delete(q.pngs, k)
				break
			}
		}
		q.pngs[key] = b
		q.mu.Unlock()
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

const (
	// qrModulePixels is the side of one QR module in the PNG: crisp at any size the page scales it to.
	qrModulePixels = 4
	// qrQuietZone is the light border, in modules, that ISO/IEC 18004 requires around the symbol.
	qrQuietZone = 4
)

// qrPalette is white then black, so a 1-bit PNG's zero bits are the background.
var qrPalette = color.Palette{color.White, color.Black}

// qrEncoder favours speed (go-qrcode's own PNG uses BestCompression, which costs more than the QR code itself
// for a few hundred bytes saved) and reuses its compression buffers across renders.
var qrEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: make(qrBufferPool, runtime.GOMAXPROCS(0))}

// renderQR returns the PNG of url's QR code, encoded by go-qrcode (error correction M, its smallest version
// and best mask), drawn with a 4-module quiet zone and qrModulePixels per module as a 1-bit paletted image.
func renderQR(url string) ([]byte, error) {
	code, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	code.DisableBorder = true
	modules := code.Bitmap()
	size := len(modules)
	side := (size + 2*qrQuietZone) * qrModulePixels
	img := image.NewPaletted(image.Rect(0, 0, side, side), qrPalette)
	for y, row := range modules {
		top := ((y + qrQuietZone) * qrModulePixels) * img.Stride
		line := img.Pix[top : top+img.Stride]
		for x, dark := range row {
			if dark {
				left := (x + qrQuietZone) * qrModulePixels
				for i := range qrModulePixels {
					line[left+i] = 1
				}
			}
		}
		for i := 1; i < qrModulePixels; i++ { // a module's other pixel rows repeat its first
			copy(img.Pix[top+i*img.Stride:], line)
		}
	}
	var buf bytes.Buffer
	buf.Grow(2048)
	if err := qrEncoder.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// qrBufferPool keeps a few of png's compression buffers (about 700 KB each, mostly deflate's tables) between
// renders. Unlike a sync.Pool it is not emptied by garbage collection, which the encoder's own garbage
// triggers every few renders: re-allocating and zeroing a buffer cost 0.1–0.15 ms a render (BENCHMARKS.md).
type qrBufferPool chan *png.EncoderBuffer

func (p qrBufferPool) Get() *png.EncoderBuffer {
	select {
	case b := <-p:
		return b
	default:
		return nil
	}
}

func (p qrBufferPool) Put(b *png.EncoderBuffer) {
	select {
	case p <- b:
	default:
	}
}
