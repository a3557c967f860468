package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/web"
)

// newClient returns a client keeping up to conns connections per host open.
func newClient(conns int) *http.Client {
	tr := &http.Transport{MaxIdleConns: conns * 4, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: time.Minute, DisableCompression: true}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// sample is one measured series of operations.
type sample struct {
	n, errors int
	elapsed   time.Duration
	lat       []time.Duration // sorted
	firstErr  error
}

// plus is s and t as one sample: their operations, errors and time summed, their latencies merged.
func (s sample) plus(t sample) sample {
	out := sample{n: s.n + t.n, errors: s.errors + t.errors, elapsed: s.elapsed + t.elapsed, firstErr: s.firstErr}
	if out.firstErr == nil {
		out.firstErr = t.firstErr
	}
	out.lat = slices.Concat(s.lat, t.lat)
	slices.Sort(out.lat)
	return out
}

func (s sample) perSecond() float64 { return float64(s.n-s.errors) / s.elapsed.Seconds() }

func (s sample) pct(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	return s.lat[min(len(s.lat)-1, int(float64(len(s.lat))*p))]
}

// drive runs op(0) … op(n-1) on conc workers. With rate > 0, op i starts no earlier than i/rate seconds
// after the start and its latency counts from then (a late start is the server's fault, not hidden);
// otherwise ops run back to back and latency is each op's own.
func drive(ctx context.Context, n, conc int, rate float64, op func(ctx context.Context, i int) error) sample {
	var next atomic.Int64
	lats := make([][]time.Duration, conc)
	errs := make([]int, conc)
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			lat := make([]time.Duration, 0, n/conc+1)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				t0 := time.Now()
				if rate > 0 {
					t0 = start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					time.Sleep(time.Until(t0))
				}
				if err := op(ctx, i); err != nil {
					errs[w]++
					errOnce.Do(func() { firstErr = err })
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			lats[w] = lat
		})
	}
	wg.Wait()
	s := sample{n: n, elapsed: time.Since(start), lat: slices.Concat(lats...), firstErr: firstErr}
	for _, e := range errs {
		s.errors += e
	}
	if ctx.Err() != nil {
		s.errors += n - len(s.lat) - s.errors
	}
	slices.Sort(s.lat)
	return s
}

// send posts body to url with the callback's api-key and wants status want.
func send(ctx context.Context, hc *http.Client, url, apiKey string, body []byte, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if apiKey != "" {
		req.Header.Set("api-key", apiKey)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: status %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}

// create asks the verifier for a presentation request as a new browser, and learns its state from the fake.
func create(ctx context.Context, hc *http.Client, up *upstream, base string) (*created, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/verifier/presentation-requests", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		RequestID string `json:"requestId"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("create: status %d: %v", resp.StatusCode, err)
	}
	c := &created{id: body.RequestID}
	for _, ck := range resp.Cookies() {
		if ck.Name == web.CookieName {
			c.cookie = ck.Value
		}
	}
	if up == nil {
		return c, nil
	}
	return c, up.lookup(c)
}

// status reads the request as its browser does and wants status want.
func status(ctx context.Context, hc *http.Client, base string, c *created, want string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/verifier/presentation-requests/"+c.id, nil)
	req.AddCookie(&http.Cookie{Name: web.CookieName, Value: c.cookie})
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"status":"`+want+`"`) {
		return fmt.Errorf("status of %s: %d %s, want %s", c.id, resp.StatusCode, b, want)
	}
	return nil
}

// createMany creates n requests with conc workers.
func createMany(ctx context.Context, hc *http.Client, up *upstream, base string, n, conc int) ([]*created, sample, error) {
	out := make([]*created, n)
	s := drive(ctx, n, conc, 0, func(ctx context.Context, i int) (err error) {
		out[i], err = create(ctx, hc, up, base)
		return err
	})
	if s.errors > 0 {
		return nil, s, fmt.Errorf("%d of %d creates failed, first: %w", s.errors, n, s.firstErr)
	}
	return out, s, nil
}

// callbackBodies are the two callbacks Microsoft sends for a request, as the Request Service sends them.
type callbackBodies struct{ retrieved, verified []byte }

func bodiesFor(c *created) callbackBodies {
	issuer := "did:web:us.did.idemia.io"
	verified := sandbox.Verified(sandbox.VerifiedIdentity(issuer, map[string]any{
		"firstName": "Megan", "lastName": "Bowen", "birthDate": "1990-04-12", "documentNumber": "X1234567", "country": "US"}))
	mk := func(ev map[string]any) []byte {
		ev["requestId"], ev["state"] = c.id, c.state
		b, _ := json.Marshal(ev)
		return b
	}
	return callbackBodies{retrieved: mk(sandbox.Retrieved()), verified: mk(verified)}
}
