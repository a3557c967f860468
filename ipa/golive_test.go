package ipa_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
)

// serviceJourney runs the real Service over a memory store behind a minimal callback route (204 on success,
// 400/403/404 as the web layer maps them) and returns it with a created session's id.
func serviceJourney(t *testing.T, f *fakes) (*ipa.Service, string) {
	t.Helper()
	st := memory.New(memory.Options{})
	t.Cleanup(func() { _ = st.Close() })
	var svc *ipa.Service
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/ipa/callback/{token}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, ipa.MaxCallbackBytes))
		if err == nil {
			_, err = svc.HandleCallback(r.Context(), r.PathValue("token"), body)
		}
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case errors.Is(err, ipa.ErrMalformed):
			w.WriteHeader(http.StatusBadRequest)
		case errors.Is(err, ipa.ErrForbidden):
			w.WriteHeader(http.StatusForbidden)
		case errors.Is(err, store.ErrNotFound):
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	public, err := url.Parse(srv.URL)
	require.NoError(t, err)
	cfg := &config.Config{PublicURL: public, IPA: config.IPA{StartURL: "https://rp-handler.example/api/v1/ipa/start"}}
	svc = ipa.NewService(ipa.Options{Config: cfg, IDEMIA: f.client(t), Store: st})
	t.Cleanup(svc.Close)
	sess, err := svc.Create(t.Context(), "owner")
	require.NoError(t, err)
	return svc, sess.ID
}

func TestUndocumentedStatusEndsInErrorAnswered2xx(t *testing.T) {
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))

	f := newFakes(t)
	svc, id := serviceJourney(t, f)
	status, err := f.ipa.Deliver(t.Context(), id, []byte(`{"applicationId":"`+testApplicationID+`","sessionId":"`+id+
		`","status":"DOCUMENT_EXPIRED","timestamp":1733294237.52}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, 1, f.ipa.CallbackAttempts(), "answered at the first attempt: IDEMIA does not retry")

	sess, err := svc.Get(t.Context(), id, "owner")
	require.NoError(t, err)
	assert.Equal(t, store.IPAError, sess.Status)
	assert.Equal(t, "DOCUMENT_EXPIRED", sess.Detail, "the undocumented value is kept as the detail")
	assert.Contains(t, logs.String(), "undocumented status")
	assert.Contains(t, logs.String(), "status=DOCUMENT_EXPIRED")
	assert.Contains(t, logs.String(), "sessionId="+id)
}

func TestCompletedSessionNeverFetchesTheProof(t *testing.T) {
	f := newFakes(t)
	svc, id := serviceJourney(t, f)
	status, err := f.ipa.DeliverCallback(t.Context(), id, sandbox.IPACompleted)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, status)
	var sess *store.IPASession
	require.Eventually(t, func() bool { // the identity is read in the background
		sess, err = svc.Get(t.Context(), id, "owner")
		return err == nil && sess.Identity != nil
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, store.IPACompleted, sess.Status)
	require.NotEmpty(t, sess.ProofURL, "IDEMIA sent a proofUrl")
	require.NotNil(t, sess.Identity)
	assert.NotEmpty(t, sess.Identity.LevelOfAssurance, "the identity was read once for its level of assurance")
	assert.Equal(t, 1, f.gips.IdentityRequests())
	assert.Equal(t, 0, f.gips.ProofRequests(), "the proof URL was requested")
	assert.True(t, f.gips.HasIdentity(sess.IdentityID))
}
