package result

import (
	"bytes"
	"context"
	"crypto/hmac"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/store"
)

// Outbox is the part of store.Store the webhook uses: pending deliveries survive a restart with Redis,
// and each is leased to one replica at a time.
type Outbox interface {
	ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (*store.Delivery, error)
	RetryDelivery(ctx context.Context, d *store.Delivery) error
	FinishDelivery(ctx context.Context, id string) error
}

// Webhook delivers result events to the relying party, signed the Standard Webhooks way: headers
// webhook-id, webhook-timestamp and webhook-signature = "v1," + base64(HMAC-SHA256(secret,
// id + "." + timestamp + "." + body)). A secret written "whsec_<base64>" is decoded; any other is used as is.
type Webhook struct {
	URL    string
	Secret []byte
	HTTP   *http.Client
	Outbox Outbox
	// MaxAttempts bounds the attempts per event (default 10); Poll is how often the outbox is checked
	// (default 500 ms); Lease is how long a claimed delivery is reserved (default 30 s).
	MaxAttempts int
	Poll, Lease time.Duration
	// Timers applies a due timer (store.Timer: the expiry events); an error retries it later. Nil drops
	// timers.
	Timers func(ctx context.Context, t *store.Timer) error
	// Workers is how many deliveries one replica attempts at once (default 4), each claiming from the
	// outbox on its own: a slow or dead receiver holds up one worker, not the whole outbox.
	Workers int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// WebhookSecret turns VERIFIER_RESULT_WEBHOOK_SECRET into the HMAC key.
func WebhookSecret(s string) ([]byte, error) {
	if b64, ok := strings.CutPrefix(s, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("VERIFIER_RESULT_WEBHOOK_SECRET: whsec_ secret is not base64: %w", err)
		}
		return key, nil
	}
	return []byte(s), nil
}

// Sign returns the webhook-signature header value for one delivery attempt.
func Sign(secret []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s.%d.", id, timestamp)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (w *Webhook) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Delivery returns ev as a delivery due now under a new webhook-id. It is stored in the same step as the
// transition that caused it (store.Store.UpdatePresentation, UpdateIPASession), so a crash cannot keep one
// without the other; whichever replica's Run claims it first sends it.
func (w *Webhook) Delivery(ev Event) (*store.Delivery, error) {
	d, err := newDelivery(ev, w.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("encode result event: %w", err)
	}
	d.ClaimsUntil = ev.ClaimsUntil
	return d, nil
}

// newDelivery is event v as a delivery made at now and due then, under a new webhook-id.
func newDelivery(v any, now time.Time) (*store.Delivery, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &store.Delivery{ID: "msg_" + cryptorand.Text(), Body: body, NextAttempt: now, CreatedAt: now}, nil
}

// Run delivers due events with Workers workers until ctx ends, and returns once every one has stopped.
func (w *Webhook) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range orDefault(w.Workers, 4) {
		wg.Go(func() { w.work(ctx) })
	}
	wg.Wait()
}

// work is one worker: it claims and attempts due deliveries until none is due, then waits for the next poll.
func (w *Webhook) work(ctx context.Context) {
	poll := orDefault(w.Poll, 500*time.Millisecond)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for w.deliverOne(ctx) { // drain what is due before sleeping
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deliverOne claims and attempts one due delivery; it reports whether there was one.
func (w *Webhook) deliverOne(ctx context.Context) bool {
	d, err := w.Outbox.ClaimDelivery(ctx, w.now(), orDefault(w.Lease, 30*time.Second))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			slog.WarnContext(ctx, "result webhook: outbox unavailable", "err", err)
		}
		return false
	}
	if d.Timer != nil {
		return w.fire(ctx, d)
	}
	status, err := w.post(ctx, d)
	if ctx.Err() != nil {
		return false // shutting down: the attempt did not happen; the lease ends and another replica retries
	}
	if err == nil {
		if err := w.Outbox.FinishDelivery(ctx, d.ID); err != nil {
			slog.WarnContext(ctx, "result webhook: delivered but could not be marked done (it may be sent again)", "webhook_id", d.ID, "err", err)
		}
		slog.InfoContext(ctx, "result event delivered", "webhook_id", d.ID, "attempts", d.Attempts, "status", status)
		return true
	}
	if d.Attempts >= orDefault(w.MaxAttempts, 10) {
		slog.ErrorContext(ctx, "result webhook: giving up", "webhook_id", d.ID, "attempts", d.Attempts, "err", err)
		_ = w.Outbox.FinishDelivery(ctx, d.ID)
		return true
	}
	d.NextAttempt = w.now().Add(Backoff(d.Attempts))
	slog.WarnContext(ctx, "result webhook: attempt failed, will retry", "webhook_id", d.ID, "attempts", d.Attempts,
		"next", d.NextAttempt, "status", status, "err", err)
	if err := w.Outbox.RetryDelivery(ctx, d); err != nil {
		slog.WarnContext(ctx, "result webhook: could not record the retry", "webhook_id", d.ID, "err", err)
	}
	return true
}

// fire applies the timer d and removes it, or retries it later when that fails. A timer is never POSTed.
func (w *Webhook) fire(ctx context.Context, d *store.Delivery) bool {
	var err error
	if w.Timers != nil {
		err = w.Timers(ctx, d.Timer)
	}
	if ctx.Err() != nil {
		return false
	}
	if err == nil || d.Attempts >= 3*orDefault(w.MaxAttempts, 10) {
		if err != nil {
			slog.ErrorContext(ctx, "timer: giving up", "timer", d.ID, "attempts", d.Attempts, "err", err)
		}
		if err := w.Outbox.FinishDelivery(ctx, d.ID); err != nil {
			slog.WarnContext(ctx, "timer: applied but could not be removed (it will be applied again, to no effect)", "timer", d.ID, "err", err)
		}
		return true
	}
	d.NextAttempt = w.now().Add(min(Backoff(d.Attempts), 10*time.Second))
	slog.InfoContext(ctx, "timer: not applied yet, will retry", "timer", d.ID, "attempts", d.Attempts, "err", err)
	if err := w.Outbox.RetryDelivery(ctx, d); err != nil {
		slog.WarnContext(ctx, "timer: could not record the retry", "timer", d.ID, "err", err)
	}
	return true
}

// Backoff is the wait after the n-th failed attempt: 1 s, 2 s, 4 s … capped at 5 minutes, ±10 % jitter.
func Backoff(n int) time.Duration {
	d := min(time.Second<<min(n-1, 9), 5*time.Minute)
	return d + time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
}

// post makes one attempt; any answer but 2xx, or no answer in time, is a failure. From d.ClaimsUntil on,
// d's body loses its claims first (and so does the retry recorded after a failure).
func (w *Webhook) post(ctx context.Context, d *store.Delivery) (int, error) {
	now := w.now()
	if !d.ClaimsUntil.IsZero() && !now.Before(d.ClaimsUntil) {
		body, err := withoutClaims(d.Body)
		if err != nil {
			return 0, err
		}
		d.Body, d.ClaimsUntil = body, time.Time{}
	}
	ts := now.Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, redactURLError(w.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(w.Secret, d.ID, ts, d.Body))
	resp, err := w.HTTP.Do(req)
	if err != nil {
		return 0, redactURLError(w.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// withoutClaims returns the event body with data.claims removed and data.claimsExpired set, every other
// field kept as it was (whatever version of the service encoded it).
func withoutClaims(body []byte) ([]byte, error) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("result webhook: remove lapsed claims: %w", err)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(ev["data"], &data); err != nil {
		return nil, fmt.Errorf("result webhook: remove lapsed claims: %w", err)
	}
	delete(data, "claims")
	data["claimsExpired"] = json.RawMessage("true")
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("result webhook: remove lapsed claims: %w", err)
	}
	ev["data"] = raw
	return json.Marshal(ev)
}

// redactURLError replaces the URL net/http puts in err (a *url.Error carries it whole, query included) by
// logging.URL's form: the URL may hold the receiver's own secret.
func redactURLError(raw string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("POST %s: %w", logging.URL(raw), err)
}

// orDefault is v when it is positive, else def.
func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
