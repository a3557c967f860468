package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/storetest"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
)

// BenchmarkCallbackDecodeValidate is the callback's body work without HTTP or store: decode the documented
// presentation_verified body and run the policy over it.
func BenchmarkCallbackDecodeValidate(b *testing.B) {
	body := callbackBody(callbackTemplate(b), "0e3a6bd1-8c8f-4a43-9b7c-4f7c3f3a3d21", "q1Hj0cY9bWJ5fC1s0kJQ2g")
	policy := verifier.Policy{AcceptedIssuers: []string{"did:web:us.did.idemia.io"}}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		cb, err := verifier.DecodeCallback(body)
		if err != nil {
			b.Fatal(err)
		}
		_ = policy.Check(cb, now)
	}
}

// BenchmarkCallbackAPIKey is the callback's authentication: the per-request HMAC and its constant-time check,
// keyed once per check (APIKey) and pooled (APIKeys, as the service checks).
func BenchmarkCallbackAPIKey(b *testing.B) {
	secret, state := []byte(TestSecret), "q1Hj0cY9bWJ5fC1s0kJQ2g"
	sent := verifier.APIKey(secret, state)
	b.Run("keyed-each-time", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if subtle.ConstantTimeCompare([]byte(sent), []byte(verifier.APIKey(secret, state))) != 1 {
				b.Fatal("mismatch")
			}
		}
	})
	b.Run("pooled", func(b *testing.B) {
		keys := verifier.NewAPIKeys(secret)
		b.ReportAllocs()
		for b.Loop() {
			if !keys.Valid(state, sent) {
				b.Fatal("mismatch")
			}
		}
	})
}

// BenchmarkSSEFanOut measures one status change reaching every open event stream of a request: a store
// transition, then each stream's re-read and write, until all watchers have read the event. The streams
// (real HTTP over loopback) are opened outside the timer.
func BenchmarkSSEFanOut(b *testing.B) {
	for _, watchers := range []int{1, 10, 100} {
		b.Run(strconv.Itoa(watchers)+"-watchers", func(b *testing.B) {
			h := New(b, nil)
			cookie, owner := benchOwner()
			hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: watchers}}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				p := newStored(b, h)
				p.OwnerHash = owner
				_, err := h.App.Store.UpdatePresentation(b.Context(), p.ID, storetest.SetPresentation(p))
				must(b, err)
				readers := make([]*bufio.Reader, watchers)
				var bodies []interface{ Close() error }
				for i := range readers {
					req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, h.URL+"/api/verifier/presentation-requests/"+p.ID+"/events", nil)
					req.AddCookie(&http.Cookie{Name: web.CookieName, Value: cookie})
					resp, err := hc.Do(req)
					must(b, err)
					bodies = append(bodies, resp.Body)
					readers[i] = bufio.NewReader(resp.Body)
					must(b, readUntil(readers[i], `"status":"created"`))
				}
				b.StartTimer()
				p.Status = store.PresentationRetrieved
				_, err = h.App.Store.UpdatePresentation(b.Context(), p.ID, storetest.SetPresentation(p))
				must(b, err)
				var wg sync.WaitGroup
				for _, r := range readers {
					wg.Go(func() {
						if err := readUntil(r, `"status":"retrieved"`); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				for _, body := range bodies {
					_ = body.Close()
				}
				b.StartTimer()
			}
		})
	}
}

// benchOwner returns a binding cookie and the owner hash the server derives from it.
func benchOwner() (cookie, owner string) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	cookie = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(cookie))
	return cookie, hex.EncodeToString(sum[:])
}

func readUntil(r *bufio.Reader, needle string) error {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return err
		}
		if bytes.Contains(line, []byte(needle)) {
			return nil
		}
	}
}

func must(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}
