package result_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// newClock is the clock of the webhook and store tests, at a fixed instant.
func newClock() *storetest.Clock {
	return storetest.NewClock(time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC))
}

// hit is one request the receiver got.
type hit struct {
	method, path string
	header       http.Header
	body         []byte
}

// receiver records every attempt and answers them with answers in turn (204 once they run out); it does
// not check signatures: the tests do, with their own HMAC.
type receiver struct {
	mu      sync.Mutex
	answers []int
	hits    []hit
	// during, when set, runs inside the handler before it answers.
	during func(*http.Request)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.hits = append(r.hits, hit{method: req.Method, path: req.URL.Path, header: req.Header.Clone(), body: body})
	status := http.StatusNoContent
	if n := len(r.hits); n <= len(r.answers) && r.answers[n-1] != 0 {
		status = r.answers[n-1]
	}
	during := r.during
	r.mu.Unlock()
	if during != nil {
		during(req)
	}
	if status >= 300 && status < 400 {
		w.Header().Set("Location", "/accepted") // would answer 204 if followed
	}
	w.WriteHeader(status)
}

func (r *receiver) setDuring(fn func(*http.Request)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.during = fn
}

func (r *receiver) Hits() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// fixture is a Webhook on a memory store, posting to an httptest receiver with a client set up as package
// app sets it (redirects are not followed).
type fixture struct {
	clock  *storetest.Clock
	store  *memory.Store
	rcv    *receiver
	key    []byte
	hook   *result.Webhook
	events *result.Events
}

func newFixture(t *testing.T, answers ...int) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), rcv: &receiver{answers: answers}, key: []byte("0123456789abcdef01234567")}
	f.store = memory.New(memory.Options{Now: f.clock.Now})
	t.Cleanup(func() { _ = f.store.Close() })
	srv := httptest.NewServer(f.rcv)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	secret, err := result.WebhookSecret("whsec_" + base64.StdEncoding.EncodeToString(f.key))
	require.NoError(t, err)
	f.hook = &result.Webhook{URL: srv.URL + "/hooks/verifier", Secret: secret, HTTP: client, Outbox: f.store, Now: f.clock.Now}
	f.events = &result.Events{Webhook: f.hook, Claims: result.ParseClaims("firstName,lastName")}
	return f
}

// queue stores a presentation request, then its transition to verified with the event it causes (as the
// verifier does), and returns the delivery's webhook-id.
func (f *fixture) queue(t *testing.T, id string) string {
	t.Helper()
	ctx := context.Background()
	now := f.clock.Now()
	require.NoError(t, f.store.CreatePresentation(ctx, &store.Presentation{ID: id, State: "state-" + id, Status: store.PresentationCreated,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}))
	var webhookID string
	_, err := f.store.UpdatePresentation(ctx, id, func(p *store.Presentation) ([]*store.Delivery, error) {
		p.Status, p.Issuer, p.UpdatedAt = store.PresentationVerified, "did:web:us.did.idemia.io", now
		p.Claims = map[string]any{"firstName": "Megan", "lastName": "Bowen", "portrait": "_9j_"}
		d, err := f.events.PresentationEnded(p)
		if err != nil {
			return nil, err
		}
		webhookID = d.ID
		return []*store.Delivery{d}, nil
	})
	require.NoError(t, err)
	return webhookID
}

// pending reports whether a delivery is still in the outbox: everything not finished is due ten minutes
// on (the longest backoff is 5½ minutes), well within store.Retention. It claims what it finds.
func (f *fixture) pending(t *testing.T) bool {
	t.Helper()
	_, err := f.store.ClaimDelivery(context.Background(), f.clock.Now().Add(10*time.Minute), time.Minute)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// standardSignature is the Standard Webhooks signature, written independently of result.Sign.
func standardSignature(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// captureLogs sends slog's default logger to a buffer until the test ends.
func captureLogs(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

func TestSignMatchesTheStandardWebhooksVector(t *testing.T) {
	vectorKey, err := result.WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	tests := []struct {
		name string
		key  []byte
		id   string
		ts   int64
		body string
		want string
	}{
		// The published test vector of the Standard Webhooks reference libraries.
		{"published vector", vectorKey, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, `{"test": 2432232314}`,
			"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{"empty body", []byte("k"), "msg_1", 0, "", standardSignature([]byte("k"), "msg_1", "0", nil)},
		{"dots in the id", []byte("k"), "msg.a.b", 1700000000, "{}", standardSignature([]byte("k"), "msg.a.b", "1700000000", []byte("{}"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, result.Sign(tc.key, tc.id, tc.ts, []byte(tc.body)))
		})
	}
	assert.NotEqual(t, result.Sign([]byte("k"), "msg_1", 1, []byte("{}")), result.Sign([]byte("k"), "msg_1", 2, []byte("{}")),
		"the timestamp is signed")
	assert.NotEqual(t, result.Sign([]byte("k"), "msg_1", 1, []byte("{}")), result.Sign([]byte("other"), "msg_1", 1, []byte("{}")),
		"the key is used")
}

func TestWebhookSecretDecoding(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		want    []byte
		wantErr string
	}{
		{"whsec_ is base64-decoded", "whsec_" + base64.StdEncoding.EncodeToString([]byte("raw key bytes\x00\xff")), []byte("raw key bytes\x00\xff"), ""},
		{"vector secret is 24 bytes", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", mustB64(t, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), ""},
		{"a plain secret is used as is", "plain-secret-value", []byte("plain-secret-value"), ""},
		{"only the prefix counts", "WHSEC_abc", []byte("WHSEC_abc"), ""},
		{"the prefix elsewhere is plain", "my-whsec_abc", []byte("my-whsec_abc"), ""},
		{"not base64", "whsec_not base64!", nil, "whsec_ secret is not base64"},
		{"URL alphabet is not standard base64", "whsec_-_-_", nil, "whsec_ secret is not base64"},
		{"missing padding", "whsec_YWJj" + "ZA", nil, "whsec_ secret is not base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := result.WebhookSecret(tc.secret)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Contains(t, err.Error(), "VERIFIER_RESULT_WEBHOOK_SECRET", "the error names the setting")
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestWebhookDeliversSignedEvents(t *testing.T) {
	f := newFixture(t)
	id := f.queue(t, "req-1")
	assert.True(t, strings.HasPrefix(id, "msg_"), id)

	require.True(t, f.hook.DeliverOne(context.Background()))
	hits := f.rcv.Hits()
	require.Len(t, hits, 1)
	h := hits[0]
	assert.Equal(t, http.MethodPost, h.method)
	assert.Equal(t, "/hooks/verifier", h.path)
	assert.Equal(t, "application/json", h.header.Get("Content-Type"))
	assert.Equal(t, id, h.header.Get("webhook-id"))
	assert.Equal(t, strconv.FormatInt(f.clock.Now().Unix(), 10), h.header.Get("webhook-timestamp"), "seconds since the epoch, by the injected clock")
	assert.Equal(t, standardSignature(f.key, id, h.header.Get("webhook-timestamp"), h.body), h.header.Get("webhook-signature"),
		"v1,base64(HMAC-SHA256(decoded whsec_ key, id.timestamp.body))")

	var ev result.Event
	require.NoError(t, json.Unmarshal(h.body, &ev))
	assert.Equal(t, "presentation.verified", ev.Type)
	assert.Equal(t, "req-1", ev.Data.RequestID)
	assert.Equal(t, map[string]any{"firstName": "Megan", "lastName": "Bowen"}, ev.Data.Claims, "only the allowed claims")

	assert.False(t, f.hook.DeliverOne(context.Background()), "nothing more is due")
	assert.False(t, f.pending(t), "an accepted delivery is finished")
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		status int
		ok     bool
	}{
		{http.StatusOK, true},
		{http.StatusCreated, true},
		{http.StatusAccepted, true},
		{http.StatusNoContent, true},
		{299, true},
		{http.StatusMultipleChoices, false},
		{http.StatusMovedPermanently, false},
		{http.StatusFound, false},
		{http.StatusSeeOther, false},
		{http.StatusNotModified, false},
		{http.StatusTemporaryRedirect, false},
		{http.StatusPermanentRedirect, false},
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusNotFound, false},
		{http.StatusRequestEntityTooLarge, false},
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			f := newFixture(t, tc.status)
			f.queue(t, "req-1")
			require.True(t, f.hook.DeliverOne(context.Background()))
			assert.Len(t, f.rcv.Hits(), 1, "one attempt, no redirect followed")
			assert.Equal(t, !tc.ok, f.pending(t), "a failed attempt stays in the outbox for a retry")
		})
	}
}

// backoffBounds are the least and most wait after the n-th failed attempt: 1 s, 2 s, 4 s … capped at
// 5 minutes, ±10 %.
func backoffBounds(n int) (lo, hi time.Duration) {
	d := min(time.Second<<min(n-1, 9), 5*time.Minute)
	return d - d/10, d + d/10
}

func TestWebhookRetriesWithBackoffThenGivesUp(t *testing.T) {
	tests := []struct {
		name        string
		maxAttempts int
		want        int
	}{
		{"default is ten attempts", 0, 10},
		{"negative means the default", -1, 10},
		{"three attempts", 3, 3},
		{"a single attempt", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			answers := make([]int, 20)
			for i := range answers {
				answers[i] = http.StatusInternalServerError
			}
			f := newFixture(t, answers...)
			f.hook.MaxAttempts = tc.maxAttempts
			id := f.queue(t, "req-1")
			ctx := context.Background()
			for n := 1; n <= tc.want; n++ {
				require.True(t, f.hook.DeliverOne(ctx), "attempt %d", n)
				require.Len(t, f.rcv.Hits(), n)
				if n == tc.want {
					break
				}
				lo, hi := backoffBounds(n)
				assert.False(t, f.hook.DeliverOne(ctx), "attempt %d: not due again at once", n)
				f.clock.Add(lo - time.Millisecond)
				assert.False(t, f.hook.DeliverOne(ctx), "attempt %d: not due before %v", n, lo)
				f.clock.Add(hi - lo + time.Millisecond)
			}
			assert.False(t, f.hook.DeliverOne(ctx), "given up")
			assert.False(t, f.pending(t), "a delivery given up is finished")
			hits := f.rcv.Hits()
			assert.Len(t, hits, tc.want)
			var prev int64
			for i, h := range hits {
				ts := h.header.Get("webhook-timestamp")
				assert.Equal(t, id, h.header.Get("webhook-id"), "the same webhook-id on every attempt")
				assert.Equal(t, standardSignature(f.key, id, ts, h.body), h.header.Get("webhook-signature"), "attempt %d signed afresh", i+1)
				sec, err := strconv.ParseInt(ts, 10, 64)
				require.NoError(t, err)
				if i > 0 {
					assert.Greater(t, sec, prev, "a fresh timestamp on each attempt")
					if strings.Contains(string(h.body), `"claimsExpired":true`) { // past the claims' retention
						assert.NotContains(t, string(h.body), "Megan", "attempt %d: claims gone once they lapsed", i+1)
					} else {
						assert.Equal(t, hits[0].body, h.body, "the same body on every attempt while claims are kept")
					}
				}
				prev = sec
			}
		})
	}
}

func TestWebhookSucceedsOnARetry(t *testing.T) {
	f := newFixture(t, http.StatusServiceUnavailable, http.StatusFound)
	f.queue(t, "req-1")
	ctx := context.Background()
	for n := 1; n <= 3; n++ {
		require.True(t, f.hook.DeliverOne(ctx), "attempt %d", n)
		_, hi := backoffBounds(n)
		f.clock.Add(hi)
	}
	assert.Len(t, f.rcv.Hits(), 3)
	assert.False(t, f.pending(t), "accepted on the third attempt")
}

// outbox wraps a store's outbox to record the leases asked for and fail on demand.
type outbox struct {
	result.Outbox
	mu                          sync.Mutex
	leases                      []time.Duration
	claimErr, retryErr, doneErr error
	drained                     chan struct{} // signalled when a claim finds nothing due
}

func (o *outbox) ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (*store.Delivery, error) {
	o.mu.Lock()
	o.leases = append(o.leases, lease)
	claimErr := o.claimErr
	o.mu.Unlock()
	if claimErr != nil {
		return nil, claimErr
	}
	d, err := o.Outbox.ClaimDelivery(ctx, now, lease)
	if errors.Is(err, store.ErrNotFound) && o.drained != nil {
		select {
		case o.drained <- struct{}{}:
		default:
		}
	}
	return d, err
}

func (o *outbox) RetryDelivery(ctx context.Context, d *store.Delivery) error {
	if o.retryErr != nil {
		return o.retryErr
	}
	return o.Outbox.RetryDelivery(ctx, d)
}

func (o *outbox) FinishDelivery(ctx context.Context, id string) error {
	if o.doneErr != nil {
		return o.doneErr
	}
	return o.Outbox.FinishDelivery(ctx, id)
}

func TestWebhookLease(t *testing.T) {
	t.Run("the configured lease is asked for", func(t *testing.T) {
		for _, tc := range []struct {
			lease, want time.Duration
		}{{0, 30 * time.Second}, {-time.Second, 30 * time.Second}, {45 * time.Second, 45 * time.Second}} {
			f := newFixture(t)
			o := &outbox{Outbox: f.store}
			f.hook.Outbox, f.hook.Lease = o, tc.lease
			f.queue(t, "req-1")
			require.True(t, f.hook.DeliverOne(context.Background()))
			assert.Equal(t, []time.Duration{tc.want}, o.leases, "Lease %v", tc.lease)
		}
	})

	t.Run("a delivery leased by another replica waits for the lease to end", func(t *testing.T) {
		f := newFixture(t)
		f.queue(t, "req-1")
		ctx := context.Background()
		other, err := f.store.ClaimDelivery(ctx, f.clock.Now(), 30*time.Second) // another replica is sending it
		require.NoError(t, err)
		assert.False(t, f.hook.DeliverOne(ctx))
		f.clock.Add(30*time.Second - time.Millisecond)
		assert.False(t, f.hook.DeliverOne(ctx), "still leased")
		assert.Empty(t, f.rcv.Hits())
		f.clock.Add(time.Millisecond)
		require.True(t, f.hook.DeliverOne(ctx), "the lease is over: that replica is presumed gone")
		hits := f.rcv.Hits()
		require.Len(t, hits, 1)
		assert.Equal(t, other.ID, hits[0].header.Get("webhook-id"))
		assert.False(t, f.pending(t))
	})

	t.Run("an attempt cut short by shutdown keeps its lease", func(t *testing.T) {
		f := newFixture(t)
		f.hook.Lease = time.Minute
		f.queue(t, "req-1")
		ctx, cancel := context.WithCancel(context.Background())
		f.rcv.setDuring(func(*http.Request) { cancel() })
		assert.False(t, f.hook.DeliverOne(ctx), "shutting down: no retry recorded, nothing finished")
		f.rcv.setDuring(nil)
		require.Len(t, f.rcv.Hits(), 1)

		f.clock.Add(time.Minute - time.Millisecond)
		_, err := f.store.ClaimDelivery(context.Background(), f.clock.Now(), time.Minute)
		assert.ErrorIs(t, err, store.ErrNotFound, "leased until the lease ends")
		f.clock.Add(time.Millisecond)
		d, err := f.store.ClaimDelivery(context.Background(), f.clock.Now(), time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 2, d.Attempts, "the cut-short attempt counts")
	})
}

func TestWebhookOutboxTrouble(t *testing.T) {
	unavailable := fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	tests := []struct {
		name     string
		answer   int
		claimErr error
		retryErr error
		doneErr  error
		queue    bool
		wantMore bool
		wantLog  string
		noLog    string
	}{
		{"nothing due is silent", 0, nil, nil, nil, false, false, "", "outbox unavailable"},
		{"nothing due from the outbox is silent", 0, store.ErrNotFound, nil, nil, true, false, "", "outbox unavailable"},
		{"an unreachable outbox is logged", 0, unavailable, nil, nil, true, false, "outbox unavailable", ""},
		{"delivered but not marked done", http.StatusOK, nil, nil, unavailable, true, true, "delivered but could not be marked done", ""},
		{"failed and the retry not recorded", http.StatusInternalServerError, nil, unavailable, nil, true, true, "could not record the retry", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.answer)
			logs := captureLogs(t)
			o := &outbox{Outbox: f.store, claimErr: tc.claimErr, retryErr: tc.retryErr, doneErr: tc.doneErr}
			f.hook.Outbox = o
			if tc.queue {
				f.queue(t, "req-1")
			}
			assert.Equal(t, tc.wantMore, f.hook.DeliverOne(context.Background()))
			if tc.wantLog != "" {
				assert.Contains(t, logs.String(), tc.wantLog)
			}
			if tc.noLog != "" {
				assert.NotContains(t, logs.String(), tc.noLog)
			}
		})
	}
}

func TestWebhookTransportErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name string
		url  string
		// hidden is what must not reach the logs. An unparsable URL is logged whole, receiver secret
		// included, but config.Validate refuses such a VERIFIER_RESULT_WEBHOOK_URL before a Webhook exists.
		hidden string
	}{
		{"no one listens", closed.URL + "/hooks?token=receiver-s3cret", "receiver-s3cret"},
		{"an invalid URL", "http://[::1/hooks?token=receiver-s3cret", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			logs := captureLogs(t)
			f.hook.URL = tc.url
			f.queue(t, "req-1")
			require.True(t, f.hook.DeliverOne(context.Background()))
			assert.Contains(t, logs.String(), "will retry")
			if tc.hidden != "" {
				assert.NotContains(t, logs.String(), tc.hidden, "the receiver's URL may hold its secret: it stays out of the logs")
			}
			assert.True(t, f.pending(t), "the attempt failed: retried later")
		})
	}
}

func TestWebhookRunDrainsThenStops(t *testing.T) {
	f := newFixture(t)
	o := &outbox{Outbox: f.store, drained: make(chan struct{}, 1)}
	f.hook.Outbox, f.hook.Workers = o, 1
	for _, id := range []string{"req-1", "req-2", "req-3"} {
		f.queue(t, id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.hook.Run(ctx)
	}()
	<-o.drained
	hits := f.rcv.Hits()
	require.Len(t, hits, 3, "everything due is sent before Run sleeps")
	ids := map[string]bool{}
	for _, h := range hits {
		ids[h.header.Get("webhook-id")] = true
	}
	assert.Len(t, ids, 3, "one webhook-id per event")
	cancel()
	<-done // Run returns once ctx ends
	assert.False(t, f.pending(t))
}

func TestWebhookDelivery(t *testing.T) {
	f := newFixture(t)
	ev := result.Event{Type: "presentation.failed", Timestamp: "2026-03-14T09:26:53Z", Data: result.Data{RequestID: "req-1", Status: "failed"}}
	d, err := f.hook.Delivery(ev)
	require.NoError(t, err)
	want, err := json.Marshal(ev)
	require.NoError(t, err)
	assert.Equal(t, want, d.Body)
	assert.True(t, strings.HasPrefix(d.ID, "msg_"), d.ID)
	assert.Zero(t, d.Attempts)
	assert.Equal(t, f.clock.Now(), d.CreatedAt)
	assert.Equal(t, d.CreatedAt, d.NextAttempt, "due at once")
	again, err := f.hook.Delivery(ev)
	require.NoError(t, err)
	assert.NotEqual(t, d.ID, again.ID, "a new webhook-id per delivery")

	local := &result.Webhook{Now: func() time.Time { return time.Date(2026, 3, 14, 10, 26, 53, 0, time.FixedZone("CET", 3600)) }}
	d, err = local.Delivery(ev)
	require.NoError(t, err)
	assert.Equal(t, time.UTC, d.CreatedAt.Location(), "stored in UTC")
	assert.True(t, d.CreatedAt.Equal(time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)))

	before := time.Now().Add(-time.Second)
	d, err = (&result.Webhook{}).Delivery(ev)
	require.NoError(t, err)
	assert.WithinRange(t, d.CreatedAt, before, time.Now().Add(time.Second), "no clock: time.Now")

	_, err = f.hook.Delivery(result.Event{Data: result.Data{Claims: map[string]any{"bad": func() {}}}})
	assert.ErrorContains(t, err, "encode result event")
}

// TestWebhookWorkersDeliverInParallel: Run's workers each claim on their own, so four slow deliveries are
// in flight at once (and never more), and every event is still sent exactly once.
func TestWebhookWorkersDeliverInParallel(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	inFlight, most := 0, 0
	four := make(chan struct{})
	f.rcv.setDuring(func(*http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight == 4 {
			close(four)
		}
		mu.Unlock()
		select { // hold every attempt until four are in flight together (bounded, so a failure is an assert)
		case <-four:
		case <-time.After(10 * time.Second):
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	})
	want := map[string]bool{}
	for i := range 10 {
		want[f.queue(t, fmt.Sprintf("req-%d", i))] = true
	}
	finished := &finishes{Outbox: f.store}
	f.hook.Outbox = finished
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.hook.Run(ctx) // Workers unset: the default, 4
	}()
	require.Eventually(t, func() bool { return finished.n.Load() >= int64(len(want)) }, 20*time.Second, 10*time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	assert.Equal(t, 4, most, "deliveries in flight at once")
	mu.Unlock()
	got := map[string]int{}
	for _, h := range f.rcv.Hits() {
		got[h.header.Get("webhook-id")]++
	}
	for id := range want {
		assert.Equal(t, 1, got[id], "%s sent once", id)
	}
	assert.Len(t, got, len(want))
	assert.False(t, f.pending(t), "the outbox is empty")
}

// TestWebhookWorkersApplyTimers: under Run's workers, timers queued beside events are applied (each once,
// whichever worker claims it) and never POSTed, and every event is POSTed once.
func TestWebhookWorkersApplyTimers(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	applied := map[string]int{}
	f.hook.Timers = func(_ context.Context, tm *store.Timer) error {
		mu.Lock()
		defer mu.Unlock()
		applied[tm.Kind+":"+tm.ID]++
		return nil
	}
	ctx := context.Background()
	now := f.clock.Now()
	want := map[string]bool{}
	for i := range 6 {
		want[f.queue(t, fmt.Sprintf("req-%d", i))] = true
		id := fmt.Sprintf("tmr-%d", i)
		require.NoError(t, f.store.CreatePresentation(ctx, &store.Presentation{ID: id, State: "state-" + id, Status: store.PresentationCreated,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Minute)}, store.NewTimer(store.TimerPresentation, id, now)))
	}
	finished := &finishes{Outbox: f.store}
	f.hook.Outbox = finished
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.hook.Run(runCtx)
	}()
	require.Eventually(t, func() bool { return finished.n.Load() >= 12 }, 20*time.Second, 10*time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	for i := range 6 {
		assert.Equal(t, 1, applied[fmt.Sprintf("presentation:tmr-%d", i)], "timer %d applied once", i)
	}
	assert.Len(t, applied, 6)
	mu.Unlock()
	got := map[string]int{}
	for _, h := range f.rcv.Hits() {
		got[h.header.Get("webhook-id")]++
	}
	for id := range want {
		assert.Equal(t, 1, got[id], "%s sent once", id)
	}
	assert.Len(t, got, len(want), "no timer is POSTed")
	assert.False(t, f.pending(t), "the outbox is empty")
}

// finishes counts the deliveries marked done.
type finishes struct {
	result.Outbox
	n atomic.Int64
}

func (f *finishes) FinishDelivery(ctx context.Context, id string) error {
	defer f.n.Add(1)
	return f.Outbox.FinishDelivery(ctx, id)
}
