package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// callbackTemplate is the documented presentation_verified fixture with placeholders for id and state.
func callbackTemplate(b *testing.B) []byte {
	raw, err := os.ReadFile("../verifier/testdata/callback-presentation-verified.json")
	if err != nil {
		b.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		b.Fatal(err)
	}
	v["requestId"], v["state"] = "@ID@", "@STATE@"
	out, _ := json.Marshal(v)
	return out
}

func callbackBody(tmpl []byte, id, state string) []byte {
	return bytes.Replace(bytes.Replace(tmpl, []byte("@ID@"), []byte(id), 1), []byte("@STATE@"), []byte(state), 1)
}

// BenchmarkCallbackBareBaseline is the floor: a bare net/http handler decoding the same JSON and
// answering 204.
func BenchmarkCallbackBareBaseline(b *testing.B) {
	body := callbackBody(callbackTemplate(b), "id", "state")
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		bare.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/verifier/callback", bytes.NewReader(body)))
		if rec.Code != http.StatusNoContent {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkCallbackVerified runs our whole callback path (middleware, decode, HMAC, store read, policy,
// compare-and-swap, notify) moving a fresh request from Created to verified on each iteration, on the memory
// store and on the shared Redis server (one callback at a time: a round trip each).
func BenchmarkCallbackVerified(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchCallbacks(b, New(b, nil)) })
	b.Run("redis", func(b *testing.B) { benchCallbacks(b, New(b, SharedRedis(b))) })
}

func benchCallbacks(b *testing.B, h *Harness) {
	handler := h.App.Server.Handler()
	type call struct {
		key  string
		body []byte
	}
	tmpl := callbackTemplate(b)
	calls := make([]call, 0, 1024)
	for range cap(calls) {
		p := newStored(b, h)
		calls = append(calls, call{verifier.APIKey([]byte(TestSecret), p.State), callbackBody(tmpl, p.ID, p.State)})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(calls) { // refill outside the measured time
			b.StopTimer()
			for j := range calls {
				p := newStored(b, h)
				calls[j] = call{verifier.APIKey([]byte(TestSecret), p.State), callbackBody(tmpl, p.ID, p.State)}
			}
			i = 0
			b.StartTimer()
		}
		req := httptest.NewRequest(http.MethodPost, "/api/verifier/callback", bytes.NewReader(calls[i].body))
		req.Header.Set("api-key", calls[i].key)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
		i++
	}
}

func newStored(b *testing.B, h *Harness) *store.Presentation {
	now := time.Now().UTC()
	p := &store.Presentation{ID: RandomID(), State: RandomID(), OwnerHash: "bench", URL: "openid-vc://?request_uri=https://x/y",
		Status: store.PresentationCreated, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := h.App.Store.CreatePresentation(b.Context(), p); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkCreateUpstreamBaseline is the floor for create: one POST of the same body straight to the
// in-process TLS fake of the Request Service, with a ready token.
func BenchmarkCreateUpstreamBaseline(b *testing.B) {
	h := New(b, nil)
	tokens, err := verifier.NewTokenSource(h.Cfg.Entra, h.Outbound())
	if err != nil {
		b.Fatal(err)
	}
	client := &verifier.Client{BaseURL: h.Cfg.Entra.RequestServiceURL, HTTP: h.Outbound(), Tokens: tokens}
	service := verifier.NewService(verifier.Options{Config: h.Cfg, Creator: client, Store: h.App.Store, Secret: []byte(TestSecret)})
	body, _ := json.Marshal(service.Request("state"))
	token, err := tokens.Token(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	hc := h.Outbound()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequestWithContext(b.Context(), http.MethodPost, h.Cfg.Entra.RequestServiceURL+"/verifiableCredentials/createPresentationRequest", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			b.Fatal(err)
		}
		var c verifier.Created
		_ = json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
	}
}

// BenchmarkCreate is our whole create Route (cookie, token from MSAL's cache, request body, upstream call,
// store) against the same fake.
func BenchmarkCreate(b *testing.B) {
	h := New(b, nil)
	handler := h.App.Server.Handler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/verifier/presentation-requests", nil))
		if rec.Code != http.StatusCreated {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
