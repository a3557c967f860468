package web

import (
	"sync"

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

// png returns the PNG of url, cached under key.
func (q *qrCache) png(key, url string) ([]byte, error) {
	q.mu.Lock()
	b, ok := q.pngs[key]
	q.mu.Unlock()
	if ok {
		return b, nil
	}
	v, err, _ := q.sf.Do(key, func() (any, error) {
		code, err := qrcode.New(url, qrcode.Medium)
		if err != nil {
			return nil, err
		}
		b, err := code.PNG(-4) // 4 pixels per module: crisp at any size the page scales it to
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
