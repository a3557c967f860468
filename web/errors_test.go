package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/journey"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
)

// netTimeout is a net.Error that timed out, as a dial or read deadline gives.
type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

// TestErrorAnswers is the status table of writeError: every code it can produce from a domain error, with
// the cause never sent and Retry-After on every 503.
func TestErrorAnswers(t *testing.T) {
	const secret = "cause-that-must-not-leak"
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"not found", store.ErrNotFound, http.StatusNotFound, "not_found"},
		{"malformed Entra callback", fmt.Errorf("%s: %w", secret, verifier.ErrMalformed), http.StatusBadRequest, "malformed"},
		{"wrong api-key", verifier.ErrUnauthorized, http.StatusUnauthorized, "unauthorized"},
		{"handed off", verifier.ErrHandedOff, http.StatusGone, "already_returned"},
		{"no token", fmt.Errorf("%s: %w", secret, verifier.ErrToken), http.StatusBadGateway, "upstream_error"},
		{"Request Service down", verifier.ErrUpstream, http.StatusBadGateway, "upstream_error"},
		{"malformed IPA notification", ipa.ErrMalformed, http.StatusBadRequest, "malformed"},
		{"foreign IPA notification", ipa.ErrForbidden, http.StatusForbidden, "forbidden"},
		{"IDEMIA down", ipa.ErrUpstream, http.StatusBadGateway, "upstream_error"},
		{"conflict", store.ErrConflict, http.StatusServiceUnavailable, "busy"},
		{"store full", store.ErrFull, http.StatusServiceUnavailable, "busy"},
		{"store unavailable", store.ErrUnavailable, http.StatusServiceUnavailable, "store_unavailable"},
		{"store timed out", fmt.Errorf("%w: %w", store.ErrUnavailable, context.DeadlineExceeded), http.StatusServiceUnavailable, "store_unavailable"},
		{"upstream deadline", fmt.Errorf("call IDEMIA: %w", context.DeadlineExceeded), http.StatusGatewayTimeout, "timeout"},
		{"network timeout", &net.OpError{Op: "read", Net: "tcp", Err: netTimeout{}}, http.StatusGatewayTimeout, "timeout"},
		{"timeout under an upstream error", fmt.Errorf("%w: %w", verifier.ErrUpstream, netTimeout{}), http.StatusGatewayTimeout, "timeout"},
		{"own answer", &web.Error{Status: http.StatusTeapot, Code: "teapot", Message: "short and stout", Err: errors.New(secret)}, http.StatusTeapot, "teapot"},
		{"wrapped own answer", fmt.Errorf("ctx: %w", &web.Error{Status: http.StatusConflict, Code: "c", Message: "m"}), http.StatusConflict, "c"},
		{"no result yet", verifier.ErrNotFinished, http.StatusConflict, "not_finished"},
		{"retrieval off", journey.ErrRetrievalOff, http.StatusNotFound, "retrieval_off"},
		{"IPA step not completed", journey.ErrNotCompleted, http.StatusConflict, "not_completed"},
		{"step done", journey.ErrStepDone, http.StatusConflict, "step_done"},
		{"no such step", journey.ErrNoSuchStep, http.StatusConflict, "step_not_in_journey"},
		{"step being started", journey.ErrBusy, http.StatusServiceUnavailable, "busy"},
		{"proof URL refused", ipa.ErrProofRefused, http.StatusBadGateway, "proof_url_refused"},
		{"anything else", errors.New(secret), http.StatusInternalServerError, "internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := unitServer(t, web.Options{Presentations: &presentationsFake{
				get: func(context.Context, string, string) (*store.Presentation, error) { return nil, tc.err },
			}}).Handler()
			rec := do(h, http.MethodGet, "/api/verifier/presentation-requests/req-1", nil, nil)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.code, errorOf(t, rec))
			assert.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.NotContains(t, rec.Body.String(), secret, "the cause is logged, never sent")
			if tc.status == http.StatusServiceUnavailable {
				assert.Equal(t, "5", rec.Header().Get("Retry-After"))
			} else {
				assert.Empty(t, rec.Header().Get("Retry-After"))
			}
			want := "0"
			if tc.code == "store_unavailable" {
				want = "1"
			}
			assert.Equal(t, want, metric(t, h, "verifier_store_errors_total"), "store errors are counted")
		})
	}
}

func TestErrorDescribesItsCause(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	tests := []struct {
		err  *web.Error
		text string
	}{
		{&web.Error{Message: "the body could not be read", Err: cause}, "the body could not be read: unexpected EOF"},
		{&web.Error{Message: "no such route"}, "no such route"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.text, tc.err.Error())
		assert.Equal(t, tc.err.Err != nil, errors.Is(tc.err, cause), "Unwrap returns the cause")
	}
	var e *web.Error
	require.ErrorAs(t, fmt.Errorf("x: %w", &web.Error{Code: "c", Err: cause}), &e)
	assert.Equal(t, cause, e.Unwrap())
}
