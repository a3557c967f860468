package result_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
)

// claimsOutbox is a fake result.Outbox holding deliveries in memory, recording what the webhook hands back.
type claimsOutbox struct {
	mu       sync.Mutex
	pending  []*store.Delivery
	retried  []store.Delivery
	finished []string
}

func (o *claimsOutbox) ClaimDelivery(_ context.Context, now time.Time, lease time.Duration) (*store.Delivery, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range o.pending {
		if !d.NextAttempt.After(now) {
			d.Attempts++
			c := *d
			d.NextAttempt = now.Add(lease)
			return &c, nil
		}
	}
	return nil, store.ErrNotFound
}

func (o *claimsOutbox) RetryDelivery(_ context.Context, d *store.Delivery) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retried = append(o.retried, *d)
	for i, p := range o.pending {
		if p.ID == d.ID {
			c := *d
			o.pending[i] = &c
		}
	}
	return nil
}

func (o *claimsOutbox) FinishDelivery(_ context.Context, id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, id)
	return nil
}

var (
	atCreate = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	atVerify = atCreate.Add(time.Minute)
)

// verifiedPresentation is a atVerify request whose claims are kept 5 minutes after the verification.
func verifiedPresentation() *store.Presentation {
	return &store.Presentation{ID: "req-1", Status: store.PresentationVerified, Issuer: "did:web:us.did.idemia.io",
		Claims: map[string]any{"firstName": "Megan", "lastName": "Bowen"}, ClaimsUntil: atVerify.Add(5 * time.Minute),
		CreatedAt: atCreate, UpdatedAt: atVerify, ExpiresAt: atCreate.Add(30 * time.Minute)}
}

// TestWebhookErrorsHideURLSecrets: the log lines and errors of a webhook whose URL carries a password and a
// token in its query hold neither.
func TestWebhookErrorsHideURLSecrets(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(logging.New(&logs, slog.LevelDebug))
	t.Cleanup(func() { slog.SetDefault(prev) })

	refuse := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("connection refused")
	}}}
	for _, url := range []string{
		"https://u:p@hook.example/x?token=SECRETTOKEN",   // the dial fails: net/http's error names the URL
		"https://u:p@hook.example/%zz?token=SECRETTOKEN", // the URL does not parse
	} {
		ev := result.PresentationEvent(verifiedPresentation(), result.ParseClaims("firstName"), atVerify)
		w := &result.Webhook{URL: url, Secret: []byte("0123456789abcdef"), HTTP: refuse, MaxAttempts: 2, Now: func() time.Time { return atVerify }}
		d, err := w.Delivery(ev)
		require.NoError(t, err)
		w.Outbox = &claimsOutbox{pending: []*store.Delivery{d}}
		require.True(t, w.DeliverOne(t.Context()))
		w.Now = func() time.Time { return atVerify.Add(time.Hour) }
		require.True(t, w.DeliverOne(t.Context()), "the second attempt gives up")
	}
	out := logs.String()
	assert.Contains(t, out, "result webhook: attempt failed")
	assert.Contains(t, out, "result webhook: giving up")
	assert.Contains(t, out, "https://hook.example/x?…", "the URL is named, redacted")
	assert.NotContains(t, out, "SECRETTOKEN")
	assert.NotContains(t, out, ":p@")
	assert.NotContains(t, out, "u:***")
	assert.NotContains(t, out, "@hook.example")
}
