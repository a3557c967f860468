package web_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
)

// TestSessionRoutes: the IPA session's status and QR code, as the domain's Get and the clock see it.
func TestSessionRoutes(t *testing.T) {
	pendingLate := sRecord
	pendingLate.Status, pendingLate.Identity, pendingLate.IdentityID = store.IPAPending, nil, ""
	pendingLate.ExpiresAt = now.Add(-time.Second)
	pending := pendingLate
	pending.ExpiresAt = now.Add(time.Minute)
	tests := []struct {
		name     string
		record   *store.IPASession
		err      error
		path     string
		status   int
		code     string
		contains string
	}{
		{"status", &sRecord, nil, "", http.StatusOK, "", `"identity":{"levelOfAssurance":"LOA3"`},
		{"pending status", &pending, nil, "", http.StatusOK, "", `"status":"pending"`},
		{"expired by the clock", &pendingLate, nil, "", http.StatusOK, "", `"status":"expired"`},
		{"unknown", nil, store.ErrNotFound, "", http.StatusNotFound, "not_found", ""},
		{"store down", nil, store.ErrUnavailable, "", http.StatusServiceUnavailable, "store_unavailable", ""},
		{"QR code", &pending, nil, "/qr.png", http.StatusOK, "", ""},
		{"QR code after expiry", &pendingLate, nil, "/qr.png", http.StatusGone, "expired", ""},
		{"QR code of another browser's", nil, store.ErrNotFound, "/qr.png", http.StatusNotFound, "not_found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := unitServer(t, web.Options{Sessions: &sessionsFake{get: func(_ context.Context, id, _ string) (*store.IPASession, error) {
				assert.Equal(t, sRecord.ID, id)
				if tc.err != nil {
					return nil, tc.err
				}
				s := *tc.record
				return &s, nil
			}}}).Handler()
			rec := do(h, http.MethodGet, "/api/ipa/sessions/"+sRecord.ID+tc.path, nil, nil)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			switch {
			case tc.code != "":
				assert.Equal(t, tc.code, errorOf(t, rec))
			case tc.path == "/qr.png":
				assert.Equal(t, "image/png", rec.Header().Get("Content-Type"))
				img, err := png.Decode(bytes.NewReader(rec.Body.Bytes()))
				require.NoError(t, err)
				assert.Greater(t, img.Bounds().Dx(), 100)
				again := do(h, http.MethodGet, "/api/ipa/sessions/"+sRecord.ID+tc.path, nil, nil)
				assert.Equal(t, rec.Body.Bytes(), again.Body.Bytes(), "the cached render")
			default:
				assert.Contains(t, rec.Body.String(), tc.contains)
				assert.Contains(t, rec.Body.String(), `"sessionId":"`+sRecord.ID+`"`)
			}
		})
	}
}

// TestPresentationQRAfterExpiry: a QR code is 410 once its request has expired.
func TestPresentationQRAfterExpiry(t *testing.T) {
	late := pRecord
	late.Status, late.ExpiresAt = store.PresentationCreated, now.Add(-time.Second)
	h := unitServer(t, web.Options{Presentations: &presentationsFake{get: func(context.Context, string, string) (*store.Presentation, error) {
		p := late
		return &p, nil
	}}}).Handler()
	rec := do(h, http.MethodGet, "/api/verifier/presentation-requests/"+pRecord.ID+"/qr.png", nil, nil)
	assert.Equal(t, http.StatusGone, rec.Code)
	assert.Equal(t, "expired", errorOf(t, rec))
}

// failingReader fails on its first read, as a body cut off mid-way does.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestCallbacks: both callback routes read a bounded body, hand it to the domain with its credential (the
// api-key header, the path's token), answer its outcome and count it by kind and outcome.
func TestCallbacks(t *testing.T) {
	type want struct {
		status  int
		code    string
		outcome string // verifier_callbacks_total label counted once
	}
	tests := []struct {
		name       string
		kind       string // entra or ipa
		body       io.Reader
		entraOut   verifier.Outcome
		ipaOut     ipa.Outcome
		err        error
		want       want
		handled    bool
		policyHits string // verifier_presentation_failures_total{reason="face_check_failed"}
	}{
		{"Entra retrieved", "entra", strings.NewReader(`{"x":1}`), verifier.Outcome{Changed: true, To: store.PresentationRetrieved}, ipa.Outcome{}, nil, want{http.StatusOK, "", "retrieved"}, true, "0"},
		{"Entra failed by policy", "entra", strings.NewReader(`{"x":1}`), verifier.Outcome{Changed: true, To: store.PresentationFailed, Reason: "face_check_failed"}, ipa.Outcome{}, nil, want{http.StatusOK, "", "failed"}, true, "1"},
		{"Entra repeated", "entra", strings.NewReader(`{"x":1}`), verifier.Outcome{}, ipa.Outcome{}, nil, want{http.StatusOK, "", "unchanged"}, true, "0"},
		{"Entra wrong api-key", "entra", strings.NewReader(`{"x":1}`), verifier.Outcome{}, ipa.Outcome{}, verifier.ErrUnauthorized, want{http.StatusUnauthorized, "unauthorized", "refused"}, true, "0"},
		{"Entra too large", "entra", strings.NewReader(strings.Repeat("a", web.MaxCallbackBody+1)), verifier.Outcome{}, ipa.Outcome{}, nil, want{http.StatusRequestEntityTooLarge, "too_large", "too_large"}, false, "0"},
		{"Entra body cut off", "entra", failingReader{}, verifier.Outcome{}, ipa.Outcome{}, nil, want{http.StatusBadRequest, "malformed", ""}, false, "0"},
		{"IPA completed", "ipa", strings.NewReader(`{"x":1}`), verifier.Outcome{}, ipa.Outcome{Changed: true, To: store.IPACompleted}, nil, want{http.StatusNoContent, "", "completed"}, true, "0"},
		{"IPA repeated", "ipa", strings.NewReader(`{"x":1}`), verifier.Outcome{}, ipa.Outcome{}, nil, want{http.StatusNoContent, "", "unchanged"}, true, "0"},
		{"IPA foreign", "ipa", strings.NewReader(`{"x":1}`), verifier.Outcome{}, ipa.Outcome{}, ipa.ErrForbidden, want{http.StatusForbidden, "forbidden", "refused"}, true, "0"},
		{"IPA too large", "ipa", strings.NewReader(strings.Repeat("a", ipa.MaxCallbackBytes+1)), verifier.Outcome{}, ipa.Outcome{}, nil, want{http.StatusRequestEntityTooLarge, "too_large", "too_large"}, false, "0"},
		{"IPA body cut off", "ipa", failingReader{}, verifier.Outcome{}, ipa.Outcome{}, nil, want{http.StatusBadRequest, "malformed", ""}, false, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var handled calls
			h := unitServer(t, web.Options{
				Presentations: &presentationsFake{callback: func(_ context.Context, apiKey string, body []byte) (verifier.Outcome, error) {
					handled.add(apiKey + " " + string(body))
					return tc.entraOut, tc.err
				}},
				Sessions: &sessionsFake{callback: func(_ context.Context, token string, body []byte) (ipa.Outcome, error) {
					handled.add(token + " " + string(body))
					return tc.ipaOut, tc.err
				}},
			}).Handler()
			path, hdr := "/api/ipa/callback/tok-123", map[string]string{}
			if tc.kind == "entra" {
				path, hdr = "/api/verifier/callback", map[string]string{"api-key": "tok-123"}
			}
			rec := do(h, http.MethodPost, path, tc.body, hdr)
			require.Equal(t, tc.want.status, rec.Code, rec.Body.String())
			if tc.want.code != "" {
				assert.Equal(t, tc.want.code, errorOf(t, rec))
			} else {
				assert.Empty(t, rec.Body.String())
			}
			if tc.handled {
				assert.Equal(t, []string{`tok-123 {"x":1}`}, handled.list())
			} else {
				assert.Empty(t, handled.list(), "an unread body reaches nobody")
			}
			if tc.want.outcome != "" {
				assert.Equal(t, "1", metric(t, h, `verifier_callbacks_total{kind="`+tc.kind+`",outcome="`+tc.want.outcome+`"}`))
			} else {
				assert.NotContains(t, do(h, http.MethodGet, "/metrics", nil, nil).Body.String(), "verifier_callbacks_total{")
			}
			policy := metric(t, h, `verifier_presentation_failures_total{reason="face_check_failed"}`)
			if tc.policyHits == "0" {
				assert.Equal(t, "missing", policy)
			} else {
				assert.Equal(t, tc.policyHits, policy)
			}
		})
	}
}

// TestIPADone is the page the phone lands on when IPA ends.
func TestIPADone(t *testing.T) {
	h := unitServer(t, web.Options{}).Handler()
	rec := do(h, http.MethodGet, "/ipa/done", nil, nil)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/html")
	assert.Equal(t, contentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
	assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Contains(t, rec.Body.String(), "<html")
	assert.Equal(t, http.StatusMethodNotAllowed, do(h, http.MethodPost, "/ipa/done", nil, nil).Code)
}

// contentSecurityPolicy is SPEC section 8's policy for every page.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
