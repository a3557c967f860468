package web

import (
	"net/http"
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

// renderQR returns the PNG of url's QR code, encoded by go-qrcode (error correction M, its smallest version
// and best mask), drawn with a qrQuietZone border and qrModulePixels per module as a 1-bit paletted image.
func renderQR(url string) ([]byte, error) {
	code, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	code.DisableBorder = true
	return qrPNG(code.Bitmap())
}
