package ipa_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entra-verifier/entra-verifier/e2e"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

func TestIPASessionLaunch(t *testing.T) {
	h := e2e.New(t, nil)
	a, b := h.CreateSession(), h.CreateSession()
	assert.Equal(t, 1, h.Cognito.TokenRequests(), "two creates, one Cognito token")
	require.Len(t, h.IPA.Requests(), 2)

	tokens := map[string]bool{}
	for i, c := range []e2e.IPACreated{a, b} {
		req := h.IPA.Requests()[i]
		assert.True(t, strings.HasPrefix(req.Header.Get("Authorization"), "Bearer "))
		assert.True(t, h.Cognito.Valid(strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")))
		var sent map[string]string
		require.NoError(t, json.Unmarshal(req.Body, &sent))
		token, ok := strings.CutPrefix(sent["callbackUrl"], h.URL+"/api/ipa/callback/")
		require.True(t, ok, sent["callbackUrl"])
		assert.Regexp(t, `^[A-Za-z0-9_-]{22}$`, token, "a 128-bit base64url token")
		tokens[token] = true
		assert.Equal(t, map[string]string{"callbackUrl": h.URL + "/api/ipa/callback/" + token, "gotoUrl": h.URL + "/ipa/done"}, sent)

		assert.Equal(t, "https://ipa.example.com/api/v1/ipa/start?session-id="+c.SessionID, c.StartURL)
		assert.Equal(t, "/api/ipa/sessions/"+c.SessionID+"/qr.png", c.QRCodeURL)
		exp, err := time.Parse(time.RFC3339, c.ExpiresAt)
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now().Add(30*time.Minute), exp, 5*time.Second)
		assert.Equal(t, "pending", h.SessionOf(c.SessionID)["status"])
	}
	assert.Len(t, tokens, 2, "each session has its own callback token")

	for _, path := range []string{"/api/ipa/sessions/" + a.SessionID, a.QRCodeURL, "/api/ipa/sessions/" + a.SessionID + "/events"} {
		for name, client := range map[string]*http.Client{"another browser": h.Stranger, "no cookie": http.DefaultClient} {
			status, body, _ := h.Do(client, http.MethodGet, path, nil, nil)
			assert.Equal(t, http.StatusNotFound, status, "%s %s", name, path)
			assert.Equal(t, "not_found", e2e.ErrorCode(t, body))
		}
	}
	status, png, hdr := h.Do(h.Browser, http.MethodGet, a.QRCodeURL, nil, nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "image/png", hdr.Get("Content-Type"))
	assert.True(t, len(png) > 100)

	status, page, hdr := h.Do(http.DefaultClient, http.MethodGet, "/ipa/done", nil, nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, hdr.Get("Content-Type"), "text/html")
	assert.Contains(t, string(page), "Go back to the device where you started", "another device is told to go back")
	status, page, _ = h.Do(h.Browser, http.MethodGet, "/ipa/done", nil, nil) // follows the 303
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(page), `id="ipa"`, "the browser of the session lands on the page")
}

func TestIPACallbacks(t *testing.T) {
	var strayHits atomic.Int32
	stray := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { strayHits.Add(1) }))
	defer stray.Close()
	h := e2e.New(t, nil)
	notification := func(id string, fields string) []byte {
		return []byte(fmt.Sprintf(`{"applicationId":"ipa-application","sessionId":%q,"timestamp":1733294237.91%s}`, id, fields))
	}
	tests := []struct {
		name string
		// before ends the session first, with an authentic notification.
		before     sandbox.IPAOutcome
		call       func(c e2e.IPACreated) (url string, body []byte)
		wantCode   int
		wantStatus string
		// wantIdentity is what identity retrieval records: "read" for a level of assurance, else its error code;
		// "" when no retrieval is expected. The proof archive is never fetched.
		wantIdentity string
	}{
		{"completed", "-", func(c e2e.IPACreated) (string, []byte) {
			body, _ := h.IPA.Callback(c.SessionID, sandbox.IPACompleted)
			return h.CallbackURL(c.SessionID), body
		}, 204, "completed", "read"},
		{"ERROR", "-", func(c e2e.IPACreated) (string, []byte) {
			body, _ := h.IPA.Callback(c.SessionID, sandbox.IPAError)
			return h.CallbackURL(c.SessionID), body
		}, 204, "error", ""},
		{"HEARTBEAT_TIMEOUT", "-", func(c e2e.IPACreated) (string, []byte) {
			body, _ := h.IPA.Callback(c.SessionID, sandbox.IPAHeartbeatTimeout)
			return h.CallbackURL(c.SessionID), body
		}, 204, "timeout", ""},
		{"retry of the same notification", sandbox.IPAError, func(c e2e.IPACreated) (string, []byte) {
			body, _ := h.IPA.Callback(c.SessionID, sandbox.IPAError)
			return h.CallbackURL(c.SessionID), body
		}, 204, "error", ""},
		{"another outcome after the end", sandbox.IPAHeartbeatTimeout, func(c e2e.IPACreated) (string, []byte) {
			body, _ := h.IPA.Callback(c.SessionID, sandbox.IPACompleted)
			return h.CallbackURL(c.SessionID), body
		}, 204, "timeout", ""},
		{"unknown token", "-", func(c e2e.IPACreated) (string, []byte) {
			return h.URL + "/api/ipa/callback/AAAAAAAAAAAAAAAAAAAAAA", notification(c.SessionID, `,"status":"ERROR"`)
		}, 404, "pending", ""},
		{"sessionId of another session", "-", func(c e2e.IPACreated) (string, []byte) {
			return h.CallbackURL(c.SessionID), notification("ba7ce9dc-c182-4907-875c-ce1942239099", `,"status":"ERROR"`)
		}, 403, "pending", ""},
		{"other applicationId", "-", func(c e2e.IPACreated) (string, []byte) {
			return h.CallbackURL(c.SessionID), []byte(fmt.Sprintf(`{"applicationId":"another-app","sessionId":%q,"timestamp":1,"status":"ERROR"}`, c.SessionID))
		}, 403, "pending", ""},
		{"not JSON", "-", func(c e2e.IPACreated) (string, []byte) { return h.CallbackURL(c.SessionID), []byte("{oops") }, 400, "pending", ""},
		{"missing sessionId", "-", func(c e2e.IPACreated) (string, []byte) {
			return h.CallbackURL(c.SessionID), []byte(`{"applicationId":"ipa-application","timestamp":1}`)
		}, 400, "pending", ""},
		{"undocumented status is an abnormal end", "-", func(c e2e.IPACreated) (string, []byte) {
			return h.CallbackURL(c.SessionID), notification(c.SessionID, `,"status":"EXPLODED"`)
		}, 204, "error", ""},
		{"oversized body", "-", func(c e2e.IPACreated) (string, []byte) {
			return h.CallbackURL(c.SessionID), notification(c.SessionID, `,"pad":"`+strings.Repeat("x", 1<<20)+`"`)
		}, 413, "pending", ""},
		{"proofUrl on another host is never fetched", "-", func(c e2e.IPACreated) (string, []byte) {
			return h.CallbackURL(c.SessionID), notification(c.SessionID, `,"identityId":"gips-1","proofUrl":"`+stray.URL+`/gips/v1/identities/gips-1/proof"`)
		}, 204, "completed", "identity_http_404"},
		{"proofUrl to the metadata address", "-", func(c e2e.IPACreated) (string, []byte) {
			return h.CallbackURL(c.SessionID), notification(c.SessionID, `,"identityId":"gips-2","proofUrl":"https://169.254.169.254/gips/latest/meta-data"`)
		}, 204, "completed", "identity_http_404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.CreateSession()
			if tc.before != "-" {
				status, err := h.IPA.DeliverCallback(t.Context(), c.SessionID, tc.before)
				require.NoError(t, err)
				require.Equal(t, http.StatusNoContent, status)
			}
			before := h.SessionOf(c.SessionID)
			url, body := tc.call(c)
			status, answer, _ := h.Do(http.DefaultClient, http.MethodPost, strings.TrimPrefix(url, h.URL), strings.NewReader(string(body)), map[string]string{"Content-Type": "application/json"})
			assert.Equal(t, tc.wantCode, status, string(answer))
			if status == http.StatusNoContent {
				assert.Empty(t, answer)
			} else {
				e2e.ErrorCode(t, answer)
			}
			after := h.SessionOf(c.SessionID)
			assert.Equal(t, tc.wantStatus, after["status"])
			if status != http.StatusNoContent || tc.before != "-" {
				assert.Equal(t, before, after, "a refused or repeated notification changes nothing")
			}
			if tc.wantIdentity != "" {
				require.Eventually(t, func() bool { return h.SessionOf(c.SessionID)["identity"] != nil }, 5*time.Second, 20*time.Millisecond)
				identity := h.SessionOf(c.SessionID)["identity"].(map[string]any)
				assert.Nil(t, identity["proof"], "the proof archive is not fetched")
				if tc.wantIdentity != "read" {
					assert.Equal(t, tc.wantIdentity, identity["error"])
				} else {
					assert.Equal(t, sandbox.IPALevelOfAssurance, identity["levelOfAssurance"])
					assert.Equal(t, sandbox.IPAIdentityStatus, identity["status"])
					assert.NotEmpty(t, after["identityId"])
				}
			}
		})
	}
	assert.Zero(t, strayHits.Load(), "a proofUrl off the IDV host is never requested")
	assert.Zero(t, h.GIPS.ProofRequests(), "the proof archive is never fetched on our own")
}

func TestIPARetriesAreIdempotent(t *testing.T) {
	h := e2e.New(t, nil)
	c := h.CreateSession()
	for range 3 {
		status, err := h.IPA.DeliverCallback(t.Context(), c.SessionID, sandbox.IPAError)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNoContent, status)
	}
	assert.Equal(t, "error", h.SessionOf(c.SessionID)["status"])
}

func TestIPATokenRefreshes(t *testing.T) {
	h := e2e.New(t, nil)
	h.Cognito.SetExpiresIn(11) // oauth2 renews 10 s before expiry: this token is good for about 1 s
	h.CreateSession()
	time.Sleep(1500 * time.Millisecond)
	h.CreateSession()
	assert.Equal(t, 2, h.Cognito.TokenRequests(), "the expired token was replaced without a failed request")
}

func TestIPADownGives502(t *testing.T) {
	h := e2e.New(t, nil)
	for _, f := range []sandbox.IPAFailure{sandbox.IPAServerError, sandbox.IPADisconnect} {
		h.IPA.SetFailure(f)
		status, body, _ := h.Do(h.Browser, http.MethodPost, "/api/ipa/sessions", nil, nil)
		assert.Equal(t, http.StatusBadGateway, status)
		assert.Equal(t, "upstream_error", e2e.ErrorCode(t, body))
	}
	h.IPA.SetFailure(sandbox.IPAWorking)
	c := h.CreateSession()
	assert.Equal(t, "pending", h.SessionOf(c.SessionID)["status"], "the service kept serving")
}

func TestIPAEvents(t *testing.T) {
	h := e2e.New(t, nil)
	c := h.CreateSession()
	events := h.Events(t, "/api/ipa/sessions/"+c.SessionID+"/events")
	assert.Equal(t, "pending", e2e.NextEvent(t, events)["status"])
	h.EndSession(c.SessionID, sandbox.IPACompleted)
	last := e2e.LastEvent(t, events)
	assert.Equal(t, "completed", last["status"])
	assert.NotNil(t, last["identity"], "the stream ends once the identity summary is known")
}

// TestIPAStreamEndsWithoutIdentity: a completed notification that names no identity still ends the
// event stream (the summary says no_identity) instead of keeping it open until the session expires.
func TestIPAStreamEndsWithoutIdentity(t *testing.T) {
	h := e2e.New(t, nil)
	c := h.CreateSession()
	events := h.Events(t, "/api/ipa/sessions/"+c.SessionID+"/events")
	assert.Equal(t, "pending", e2e.NextEvent(t, events)["status"])
	body := `{"applicationId":"ipa-application","sessionId":"` + c.SessionID + `","timestamp":1733294237.9}`
	status, err := h.IPA.Deliver(t.Context(), c.SessionID, []byte(body))
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, status)
	last := e2e.LastEvent(t, events)
	assert.Equal(t, "completed", last["status"])
	assert.Equal(t, "no_identity", last["identity"].(map[string]any)["error"])
}
