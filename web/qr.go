package web

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"sync"

	"golang.org/x/sync/singleflight"
	"rsc.io/qr/coding"
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

// qrEncoder favours speed (BestCompression would cost more than the QR code itself for a few hundred bytes
// saved) and reuses its compression buffers across renders.
var qrEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &qrBufferPool{}}

// renderQR returns the PNG of url's QR code: error correction M, the smallest version that holds url in
// byte mode, the mask with the lowest ISO/IEC 18004 penalty, a 4-module quiet zone and qrModulePixels per
// module, as a 1-bit paletted image. rsc.io/qr/coding does the encoding (table-driven Reed-Solomon, about 25
// times faster than go-qrcode's, whose polynomial arithmetic allocates for every step).
func renderQR(url string) ([]byte, error) {
	code, err := encodeQR(url)
	if err != nil {
		return nil, err
	}
	side := (code.Size + 2*qrQuietZone) * qrModulePixels
	img := image.NewPaletted(image.Rect(0, 0, side, side), qrPalette)
	for y := range code.Size {
		top := ((y + qrQuietZone) * qrModulePixels) * img.Stride
		line := img.Pix[top : top+img.Stride]
		for x := range code.Size {
			if code.Black(x, y) {
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

// encodeQR encodes text at level M with each of the 8 masks and keeps the one with the lowest penalty.
func encodeQR(text string) (*coding.Code, error) {
	enc := coding.String(text)
	v := coding.Version(coding.MinVersion)
	for ; enc.Bits(v) > v.DataBytes(coding.M)*8; v++ {
		if v == coding.MaxVersion {
			return nil, errors.New("qr: text too long")
		}
	}
	var best *coding.Code
	bestScore := 0
	for mask := range coding.Mask(8) {
		code, err := encodeQRMask(enc, v, mask)
		if err != nil {
			return nil, err
		}
		if score := qrPenalty(code); best == nil || score < bestScore {
			best, bestScore = code, score
		}
	}
	return best, nil
}

// qrPlans caches the plans (module layout, Reed-Solomon blocks, mask) by version and mask: building one
// costs more than encoding with it, and a plan is only read once built.
var qrPlans struct {
	mu    sync.Mutex
	plans map[[2]int]*coding.Plan
}

func encodeQRMask(enc coding.Encoding, v coding.Version, mask coding.Mask) (*coding.Code, error) {
	key := [2]int{int(v), int(mask)}
	qrPlans.mu.Lock()
	plan := qrPlans.plans[key]
	qrPlans.mu.Unlock()
	if plan == nil {
		var err error
		if plan, err = coding.NewPlan(v, coding.M, mask); err != nil {
			return nil, err
		}
		qrPlans.mu.Lock()
		if qrPlans.plans == nil {
			qrPlans.plans = map[[2]int]*coding.Plan{}
		}
		qrPlans.plans[key] = plan
		qrPlans.mu.Unlock()
	}
	return plan.Encode(enc)
}

// qrPenalty is the mask evaluation of ISO/IEC 18004 section 7.8.3: runs of five or more like modules, 2×2
// blocks of one colour, finder-like 1:1:3:1:1 patterns beside four light modules, and dark/light imbalance.
func qrPenalty(c *coding.Code) int {
	n := c.Size
	rows := make([]byte, 2*n*n) // the modules row by row (1 is dark), then column by column
	cols := rows[n*n:]
	rows = rows[:n*n]
	darkCount := 0
	for y := range n {
		for x := range n {
			if c.Bitmap[y*c.Stride+x/8]&(1<<(7-x%8)) != 0 {
				rows[y*n+x], cols[x*n+y] = 1, 1
				darkCount++
			}
		}
	}
	score := 0
	for _, lines := range [2][]byte{rows, cols} {
		for i := range n {
			score += qrLinePenalty(lines[i*n : (i+1)*n])
		}
	}
	for y := range n - 1 {
		a, b := rows[y*n:(y+1)*n], rows[(y+1)*n:(y+2)*n]
		for x := range n - 1 {
			if d := a[x]; a[x+1] == d && b[x] == d && b[x+1] == d {
				score += 3
			}
		}
	}
	deviation := darkCount*100/(n*n) - 50
	if deviation < 0 {
		deviation = -deviation
	}
	return score + deviation/5*10
}

// qrLinePenalty scores one row or column: runs of five or more (3 + the excess) and finder-like patterns
// (40 each); modules past either end lie in the quiet zone, which is light.
func qrLinePenalty(line []byte) int {
	n, score, run := len(line), 0, 1
	for j := 1; j <= n; j++ {
		if j < n && line[j] == line[j-1] {
			run++
			continue
		}
		if run >= 5 {
			score += run - 2
		}
		run = 1
	}
	for j := 0; j+7 <= n; j++ {
		if line[j] == 1 && line[j+1] == 0 && line[j+2] == 1 && line[j+3] == 1 && line[j+4] == 1 && line[j+5] == 0 && line[j+6] == 1 &&
			(qrLight(line, j-4, j) || qrLight(line, j+7, j+11)) {
			score += 40
		}
	}
	return score
}

// qrLight reports whether modules [from, to) of line are light.
func qrLight(line []byte, from, to int) bool {
	for j := max(from, 0); j < min(to, len(line)); j++ {
		if line[j] == 1 {
			return false
		}
	}
	return true
}

// qrBufferPool lets the PNG encoder reuse its compression buffers (png.EncoderBufferPool).
type qrBufferPool struct{ p sync.Pool }

func (b *qrBufferPool) Get() *png.EncoderBuffer {
	if v, ok := b.p.Get().(*png.EncoderBuffer); ok {
		return v
	}
	return nil
}

func (b *qrBufferPool) Put(v *png.EncoderBuffer) { b.p.Put(v) }
