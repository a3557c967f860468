package e2e

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Receiver is a relying party's webhook endpoint that checks every signature with its own implementation
// of the Standard Webhooks scheme and answers 500 to the first `failures` attempts.
type Receiver struct {
	t        *testing.T
	key      []byte
	mu       sync.Mutex
	failures int
	attempts []http.Header
	accepted []map[string]any
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	sent, err := strconv.ParseInt(ts, 10, 64)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, req.Header.Clone())
	if !hmac.Equal([]byte(req.Header.Get("webhook-signature")), []byte(want)) || err != nil || time.Since(time.Unix(sent, 0)) > time.Minute {
		r.t.Errorf("bad signature or timestamp on %s", id)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if len(r.attempts) <= r.failures {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var ev map[string]any
	if json.Unmarshal(body, &ev) != nil {
		r.t.Errorf("payload is not JSON")
	}
	r.accepted = append(r.accepted, ev)
	w.WriteHeader(http.StatusNoContent)
}

func (r *Receiver) snapshot() (attempts []http.Header, accepted []map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.attempts...), append([]map[string]any(nil), r.accepted...)
}

func (r *Receiver) setFailures(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = n
}

// NewReceiver starts a Receiver and returns the settings that point the verifier at it.
func NewReceiver(t *testing.T, failures int) (*Receiver, map[string]string) {
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	r := &Receiver{t: t, key: key, failures: failures}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, map[string]string{
		"VERIFIER_RESULT_WEBHOOK_URL":    srv.URL + "/hooks/verifier",
		"VERIFIER_RESULT_WEBHOOK_SECRET": "whsec_" + base64.StdEncoding.EncodeToString(key),
	}
}

// Accepted returns the events accepted so far, in arrival order.
func (r *Receiver) Accepted() []map[string]any {
	_, accepted := r.snapshot()
	return accepted
}
