package ipa_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
)

// receiver plays the web layer: it owns one session and handles its callbacks with the ipa package.
type receiver struct {
	c       *ipa.Client
	mu      sync.Mutex
	session store.IPASession
	hash    string
	answers []int // statuses to answer before handling, for retry tests
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.answers) > 0 {
		w.WriteHeader(rc.answers[0])
		rc.answers = rc.answers[1:]
		return
	}
	if ipa.HashCallbackToken(r.PathValue("token")) != rc.hash {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, ipa.MaxCallbackBytes))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	cb, err := ipa.DecodeCallback(body)
	switch {
	case errors.Is(err, ipa.ErrMalformed):
		w.WriteHeader(http.StatusBadRequest)
		return
	case rc.c.CheckCallback(cb, &rc.session) != nil:
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if !rc.session.Status.Final() {
		rc.session.Status = cb.Status
		rc.session.IdentityID, rc.session.ProofURL = cb.IdentityID, cb.ProofURL
		rc.session.Identity = rc.c.Retrieve(r.Context(), cb)
	}
	w.WriteHeader(http.StatusNoContent)
}

// journey creates a session through the client and returns it with the receiver that takes its callbacks.
func journey(t *testing.T, f *fakes) (*receiver, string) {
	t.Helper()
	rc := &receiver{c: f.client(t)}
	mux := http.NewServeMux()
	mux.Handle("POST /api/ipa/callback/{token}", rc)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	token, hash := ipa.NewCallbackToken()
	id, err := rc.c.CreateSession(t.Context(), srv.URL+"/api/ipa/callback/"+token, srv.URL+"/ipa/done")
	require.NoError(t, err)
	rc.session = store.IPASession{ID: id, TokenHash: hash, Status: store.IPAPending}
	rc.hash = hash
	f.ipa.SetRetry(2, 10*time.Millisecond)
	return rc, id
}

func TestJourneyEndsWithEachOutcome(t *testing.T) {
	tests := []struct {
		outcome  sandbox.IPAOutcome
		status   store.IPAStatus
		identity *store.IdentitySummary
	}{
		{sandbox.IPACompleted, store.IPACompleted, &store.IdentitySummary{
			LevelOfAssurance: sandbox.IPALevelOfAssurance, Status: sandbox.IPAIdentityStatus}},
		{sandbox.IPAError, store.IPAError, nil},
		{sandbox.IPAHeartbeatTimeout, store.IPATimeout, nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			f := newFakes(t)
			rc, id := journey(t, f)
			status, err := f.ipa.DeliverCallback(t.Context(), id, tt.outcome)
			require.NoError(t, err)
			assert.Equal(t, http.StatusNoContent, status)
			assert.Equal(t, tt.status, rc.session.Status)
			assert.Equal(t, tt.identity, rc.session.Identity)
			if tt.outcome == sandbox.IPACompleted {
				assert.Equal(t, 1, f.gips.IdentityRequests())
				assert.Equal(t, 0, f.gips.ProofRequests(), "the proof archive is never fetched on our own")
				assert.True(t, f.gips.HasIdentity(rc.session.IdentityID), "IDEMIA keeps the transaction for the relying party")
			}
			// A repeat changes nothing and is still accepted.
			status, err = f.ipa.Deliver(t.Context(), id, []byte(`{"applicationId":"`+testApplicationID+
				`","sessionId":"`+id+`","status":"ERROR","timestamp":1}`))
			require.NoError(t, err)
			assert.Equal(t, http.StatusNoContent, status)
			assert.Equal(t, tt.status, rc.session.Status)
			assert.Equal(t, 2, f.ipa.CallbackAttempts())
		})
	}
}

func TestJourneyRefusesForeignCallbacks(t *testing.T) {
	f := newFakes(t)
	rc, id := journey(t, f)
	tests := map[string]struct {
		body   string
		status int
	}{
		"other application": {`{"applicationId":"someone-else","sessionId":"` + id + `","timestamp":1}`, http.StatusForbidden},
		"other session":     {`{"applicationId":"` + testApplicationID + `","sessionId":"00000000-0000-4000-8000-000000000000","timestamp":1}`, http.StatusForbidden},
		"malformed":         {`{"applicationId":"` + testApplicationID + `"}`, http.StatusBadRequest},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f.ipa.SetRetry(0, 0)
			status, err := f.ipa.Deliver(t.Context(), id, []byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.status, status)
			assert.Equal(t, store.IPAPending, rc.session.Status)
		})
	}
}

func TestCallbackIsRetriedOnNon2xx(t *testing.T) {
	f := newFakes(t)
	rc, id := journey(t, f)
	rc.answers = []int{http.StatusInternalServerError, http.StatusServiceUnavailable}
	status, err := f.ipa.DeliverCallback(t.Context(), id, sandbox.IPAError)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, 3, f.ipa.CallbackAttempts())
	assert.Equal(t, store.IPAError, rc.session.Status)

	rc.answers = []int{500, 500, 500, 500}
	status, err = f.ipa.DeliverCallback(t.Context(), id, sandbox.IPAError)
	require.NoError(t, err)
	assert.Equal(t, http.StatusInternalServerError, status, "IDEMIA gives up after 2 retries")
	assert.Equal(t, 6, f.ipa.CallbackAttempts())
}

func TestRetrieveSummaries(t *testing.T) {
	f := newFakes(t)
	c := f.client(t)
	completed := func(identityID, proofURL string) *ipa.Callback {
		return &ipa.Callback{Status: store.IPACompleted, IdentityID: identityID, ProofURL: proofURL}
	}
	proofURL := func(id string) string { return f.gipsSrv.URL + "/gips/v1/identities/" + id + "/proof" }
	id := f.gips.AddIdentity("VERIFIED", "LOA2")
	tests := []struct {
		name string
		cb   *ipa.Callback
		want *store.IdentitySummary
	}{
		{"a proofUrl it may not fetch changes nothing", completed(id, "https://169.254.169.254/gips/x"),
			&store.IdentitySummary{LevelOfAssurance: "LOA2", Status: "VERIFIED"}},
		{"read once, proof left alone", completed(id, proofURL(id)),
			&store.IdentitySummary{LevelOfAssurance: "LOA2", Status: "VERIFIED"}},
		{"identity gone", completed("gips-00000000-0000-4000-8000-000000000000", proofURL(id)),
			&store.IdentitySummary{Error: "identity_http_404"}},
		{"odd identity id", completed("../../admin", ""), &store.IdentitySummary{Error: "identity_id_invalid"}},
		{"no identity", completed("", ""), nil},
		{"a proofUrl without an identity", completed("", proofURL(id)), nil},
		{"error callback", &ipa.Callback{Status: store.IPAError, IdentityID: id}, nil},
		{"no callback", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, c.Retrieve(t.Context(), tt.cb))
			assert.Equal(t, 0, f.gips.ProofRequests(), "no proof fetched")
		})
	}
}
