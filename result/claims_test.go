package result_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
)

// claimsReceiver is a relying party's webhook endpoint answering status and keeping what it received.
type claimsReceiver struct {
	mu     sync.Mutex
	status int
	bodies [][]byte
	sigs   []string
	stamps []string
}

func (r *claimsReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, body)
	r.sigs = append(r.sigs, req.Header.Get("webhook-signature"))
	r.stamps = append(r.stamps, req.Header.Get("webhook-timestamp"))
	w.WriteHeader(r.status)
}

// TestDeliveryPastClaimsRetention: a delivery sent before the claims lapse carries them; one still pending
// when they lapse is sent without them, with "claimsExpired": true, signed over what is sent, and the retry
// recorded after a failed attempt holds no claims either.
func TestDeliveryPastClaimsRetention(t *testing.T) {
	tests := []struct {
		name        string
		sendAt      time.Time
		status      int
		wantClaims  bool
		wantRetried bool
	}{
		{"before the claims lapse", atVerify.Add(time.Second), http.StatusNoContent, true, false},
		{"when they lapse", atVerify.Add(5 * time.Minute), http.StatusNoContent, false, false},
		{"an hour after, failing", atVerify.Add(59 * time.Minute), http.StatusServiceUnavailable, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rcv := &claimsReceiver{status: tc.status}
			srv := httptest.NewServer(rcv)
			t.Cleanup(srv.Close)
			clock := atVerify
			secret := []byte("0123456789abcdef")
			w := &result.Webhook{URL: srv.URL, Secret: secret, HTTP: srv.Client(), Outbox: &claimsOutbox{}, Now: func() time.Time { return clock }}
			ev := result.PresentationEvent(verifiedPresentation(), result.ParseClaims("firstName,lastName"), atVerify)
			d, err := w.Delivery(ev)
			require.NoError(t, err)
			assert.Equal(t, atVerify.Add(5*time.Minute), d.ClaimsUntil)
			ob := &claimsOutbox{pending: []*store.Delivery{d}}
			w.Outbox = ob

			clock = tc.sendAt
			require.True(t, w.DeliverOne(t.Context()))
			require.Len(t, rcv.bodies, 1)
			body := rcv.bodies[0]
			var got struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			}
			require.NoError(t, json.Unmarshal(body, &got), "%s", body)
			assert.Equal(t, "presentation.verified", got.Type)
			assert.Equal(t, "req-1", got.Data["requestId"])
			assert.Equal(t, "did:web:us.did.idemia.io", got.Data["issuer"])
			if tc.wantClaims {
				assert.Equal(t, map[string]any{"firstName": "Megan", "lastName": "Bowen"}, got.Data["claims"])
				assert.NotContains(t, got.Data, "claimsExpired")
			} else {
				assert.NotContains(t, got.Data, "claims")
				assert.Equal(t, true, got.Data["claimsExpired"])
				assert.NotContains(t, string(body), "Megan")
			}
			ts, err := strconv.ParseInt(rcv.stamps[0], 10, 64)
			require.NoError(t, err)
			assert.Equal(t, result.Sign(secret, d.ID, ts, body), rcv.sigs[0], "signed over the body sent")
			if tc.wantRetried {
				require.Len(t, ob.retried, 1)
				assert.NotContains(t, string(ob.retried[0].Body), "Megan", "the recorded retry holds no claims")
				assert.True(t, ob.retried[0].ClaimsUntil.IsZero())
			} else {
				assert.Equal(t, []string{d.ID}, ob.finished)
			}
		})
	}
}

// TestEventWithoutClaimsHasNoClaimsDeadline: a failed request's event carries no claims, so nothing lapses.
func TestEventWithoutClaimsHasNoClaimsDeadline(t *testing.T) {
	p := verifiedPresentation()
	p.Status, p.Claims, p.Reason = store.PresentationFailed, nil, "credential_revoked"
	assert.True(t, result.PresentationEvent(p, result.ParseClaims("firstName"), atVerify).ClaimsUntil.IsZero())
	p = verifiedPresentation()
	assert.True(t, result.PresentationEvent(p, result.ParseClaims("dateOfBirth"), atVerify).ClaimsUntil.IsZero(), "no allowed claim present")
}
