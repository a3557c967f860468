package e2e_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

const (
	backendKey = "rp-backend-key-0123456789abcdef0123456789"
	oldKey     = "rp-backend-old-0123456789abcdef0123456789"
)

// backend calls a backend route with key ("" for none) and decodes a JSON answer into out (when not nil).
func backend(t *testing.T, h *e2e.Harness, key, method, path string, body any, out any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	if key != "" {
		hdr["Authorization"] = "Bearer " + key
	}
	status, b, header := h.Do(http.DefaultClient, method, path, rd, hdr)
	if out != nil && status < 300 {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return status, b, header
}

type createdJourney struct {
	JourneyID, LaunchURL, ExpiresAt string
}

func newJourney(t *testing.T, h *e2e.Harness, body map[string]any) createdJourney {
	t.Helper()
	var c createdJourney
	status, b, _ := backend(t, h, backendKey, http.MethodPost, "/api/backend/journeys", body, &c)
	require.Equal(t, http.StatusCreated, status, string(b))
	require.True(t, strings.HasPrefix(c.LaunchURL, h.Cfg.URL("/start/")), c.LaunchURL)
	return c
}

func journeyStatus(t *testing.T, h *e2e.Harness, id string) map[string]any {
	t.Helper()
	var st map[string]any
	status, b, _ := backend(t, h, backendKey, http.MethodGet, "/api/backend/journeys/"+id, nil, &st)
	require.Equal(t, http.StatusOK, status, string(b))
	return st
}

// open opens a launch link as browser c, without following the redirect.
func open(t *testing.T, h *e2e.Harness, c *http.Client, launchURL string) (int, http.Header) {
	t.Helper()
	nc := *c
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	status, _, hdr := h.Do(&nc, http.MethodGet, strings.TrimPrefix(launchURL, h.Cfg.URL("")), nil, nil)
	return status, hdr
}

func journeyEnv(extra ...map[string]string) map[string]string {
	env := map[string]string{"VERIFIER_API_KEYS": "crm:" + backendKey + ",old:" + oldKey}
	for _, m := range extra {
		for k, v := range m {
			env[k] = v
		}
	}
	return env
}

// waitEvents waits until the receiver accepted n events and returns them.
func waitEvents(t *testing.T, r *e2e.Receiver, n int) []map[string]any {
	t.Helper()
	var got []map[string]any
	require.Eventually(t, func() bool { got = r.Accepted(); return len(got) >= n }, 10*time.Second, 20*time.Millisecond)
	return got
}

// TestJourneyEndToEnd: a journey created by the backend, its link opened by one browser (another gets 410),
// both steps completed through the page, the status read at each stage with the reference echoed, the
// events in order with journeyId and reference, identity and proof passed through byte for byte.
func TestJourneyEndToEnd(t *testing.T) {
	recv, hook := e2e.NewReceiver(t, 0)
	h := e2e.New(t, journeyEnv(hook))
	c := newJourney(t, h, map[string]any{"reference": "case-4711", "expectedClaims": map[string]string{"firstName": "Megan"}})
	st := journeyStatus(t, h, c.JourneyID)
	assert.Equal(t, "pending", st["status"])
	assert.Equal(t, "case-4711", st["reference"])
	assert.Equal(t, []any{"ipa", "presentation"}, st["steps"])
	assert.Nil(t, st["ipa"])
	assert.Nil(t, st["presentation"])

	status, hdr := open(t, h, h.Browser, c.LaunchURL)
	require.Equal(t, http.StatusSeeOther, status)
	assert.Equal(t, "/", hdr.Get("Location"))
	status, _ = open(t, h, h.Browser, c.LaunchURL)
	assert.Equal(t, http.StatusSeeOther, status, "the same browser may open it again")
	status, _ = open(t, h, h.Stranger, c.LaunchURL)
	assert.Equal(t, http.StatusGone, status, "another browser gets 410")
	status, _ = open(t, h, e2e.NewBrowser(t), strings.TrimSuffix(c.LaunchURL, c.LaunchURL[len(c.LaunchURL)-3:])+"xyz")
	assert.Equal(t, http.StatusGone, status, "an unknown link gets 410")
	st = journeyStatus(t, h, c.JourneyID)
	assert.Equal(t, "in_progress", st["status"])

	// Presentation before IPA completed: refused; then IPA.
	code, body, _ := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
	require.Equal(t, http.StatusConflict, code, string(body))
	assert.Equal(t, "not_completed", e2e.ErrorCode(t, body))
	sess := h.CreateSession()
	again := h.CreateSession()
	assert.Equal(t, sess.SessionID, again.SessionID, "a pending step is resumed, not started twice")
	st = journeyStatus(t, h, c.JourneyID)
	assert.Equal(t, sess.SessionID, st["ipa"].(map[string]any)["sessionId"])
	assert.Equal(t, "pending", st["ipa"].(map[string]any)["status"])

	identityReads := h.GIPS.IdentityRequests()
	h.EndSession(sess.SessionID, sandbox.IPACompleted)
	require.Eventually(t, func() bool {
		ipa, _ := journeyStatus(t, h, c.JourneyID)["ipa"].(map[string]any)
		return ipa["levelOfAssurance"] != nil
	}, 5*time.Second, 20*time.Millisecond)
	st = journeyStatus(t, h, c.JourneyID)
	assert.Equal(t, "completed", st["ipa"].(map[string]any)["status"])
	assert.Equal(t, "in_progress", st["status"])

	// Identity and proof, read when asked, byte for byte.
	assert.Equal(t, identityReads+1, h.GIPS.IdentityRequests(), "one read of the identity at completion")
	before := h.GIPS.IdentityRequests()
	code, payload, _ := backend(t, h, backendKey, http.MethodGet, "/api/backend/journeys/"+c.JourneyID+"/identity", nil, nil)
	require.Equal(t, http.StatusOK, code, string(payload))
	assert.Equal(t, before+1, h.GIPS.IdentityRequests(), "exactly one IDEMIA fetch per call")
	identityID := st["ipa"].(map[string]any)["identityId"].(string)
	direct := gipsGet(t, h, "/gips/v1/identities/"+identityID)
	assert.Equal(t, direct, payload, "passed through byte for byte")
	assert.Equal(t, 0, h.GIPS.ProofRequests(), "no proof fetched before the backend asks")
	code, proof, hdr := backend(t, h, backendKey, http.MethodGet, "/api/backend/journeys/"+c.JourneyID+"/proof", nil, nil)
	require.Equal(t, http.StatusOK, code, string(proof))
	assert.Equal(t, "application/zip", hdr.Get("Content-Type"))
	assert.Equal(t, []byte{'P', 'K', 5, 6}, proof[:4])
	assert.Equal(t, 1, h.GIPS.ProofRequests())

	// The presentation, with the expected claims as Microsoft claim constraints.
	var pr e2e.Created
	h.Call(http.MethodPost, "/api/verifier/presentation-requests", http.StatusCreated, &pr)
	constraints, err := h.RS.Constraints(pr.RequestID)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"firstName": {"Megan"}}, constraints)
	status, err = h.RS.Present(t.Context(), pr.RequestID, sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	st = journeyStatus(t, h, c.JourneyID)
	assert.Equal(t, "completed", st["status"])
	assert.Equal(t, "case-4711", st["reference"])
	p := st["presentation"].(map[string]any)
	assert.Equal(t, "verified", p["status"])
	assert.Equal(t, e2e.USDID, p["issuer"])
	assert.Equal(t, "Megan", p["claims"].(map[string]any)["firstName"])
	assert.Contains(t, p, "reason")
	assert.Nil(t, p["reason"])

	// The webhook's workers deliver in parallel: the events arrive in any order (their timestamps give it).
	events := waitEvents(t, recv, 3)
	var types []string
	byType := map[string]map[string]any{}
	for _, ev := range events {
		types = append(types, ev["type"].(string))
		data := ev["data"].(map[string]any)
		byType[ev["type"].(string)] = data
		assert.Equal(t, c.JourneyID, data["journeyId"], ev["type"])
		assert.Equal(t, "case-4711", data["reference"], ev["type"])
	}
	assert.ElementsMatch(t, []string{"ipa.completed", "presentation.verified", "journey.completed"}, types)
	require.Contains(t, byType, "journey.completed")
	done := byType["journey.completed"]
	assert.Equal(t, "completed", done["status"])
	assert.NotContains(t, done["presentation"].(map[string]any), "claims", "journey events carry no claims")
	assert.Equal(t, sess.SessionID, done["ipa"].(map[string]any)["sessionId"])
}

// TestACLUserRunsABackendJourney: two replicas on the shared Redis as a user limited to the key prefix (see
// TestACLUserRunsEveryFlow) run a backend journey: created with its expiry timer on one replica, its link
// opened on the other (the journey's update, the owner binding), its step created with its timer and
// completed, the journey's status read on both and its events delivered from the journey's and the step's
// bucket queues.
func TestACLUserRunsABackendJourney(t *testing.T) {
	recv, hook := e2e.NewReceiver(t, 0)
	h := e2e.New(t, journeyEnv(hook, e2e.ACLRedis(t)))
	r := h.Replica()
	c := newJourney(t, h, map[string]any{"reference": "case-acl", "steps": []string{"presentation"}})
	status, _ := open(t, r, h.Browser, c.LaunchURL)
	require.Equal(t, http.StatusSeeOther, status)
	assert.Equal(t, "in_progress", journeyStatus(t, h, c.JourneyID)["status"])
	step := r.Create()
	status, err := h.RS.Present(t.Context(), step.RequestID, sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	for _, rep := range []*e2e.Harness{h, r} {
		st := journeyStatus(t, rep, c.JourneyID)
		assert.Equal(t, "completed", st["status"])
		assert.Equal(t, step.RequestID, st["presentation"].(map[string]any)["requestId"])
	}
	var types []string
	for _, ev := range waitEvents(t, recv, 2) {
		types = append(types, ev["type"].(string))
		assert.Equal(t, c.JourneyID, ev["data"].(map[string]any)["journeyId"], ev["type"])
	}
	assert.ElementsMatch(t, []string{"presentation.verified", "journey.completed"}, types)
}

// gipsGet reads path from the GIPS fake directly, as the reference for byte-for-byte checks.
func gipsGet(t *testing.T, h *e2e.Harness, path string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+h.Cfg.IPA.IDVURL[len("https://"):]+path, nil)
	require.NoError(t, err)
	req.Header.Set("apikey", "gips-key")
	resp, err := h.Outbound().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// TestJourneyExpectedClaimsRefused: a credential of another person is refused by the Request Service fake
// (presentation_error, claimValidationError), and the journey stays in progress.
func TestJourneyExpectedClaimsRefused(t *testing.T) {
	h := e2e.New(t, journeyEnv())
	c := newJourney(t, h, map[string]any{"reference": "case-1", "steps": []string{"presentation"},
		"expectedClaims": map[string]string{"firstName": "Alice"}})
	status, _ := open(t, h, h.Browser, c.LaunchURL)
	require.Equal(t, http.StatusSeeOther, status)
	pr := h.Create()
	status, err := h.RS.Present(t.Context(), pr.RequestID, sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	st := journeyStatus(t, h, c.JourneyID)
	assert.Equal(t, "in_progress", st["status"])
	p := st["presentation"].(map[string]any)
	assert.Equal(t, "failed", p["status"])
	assert.Equal(t, "presentation_error", p["reason"])
	assert.Equal(t, "claimValidationError", p["detail"])
	retry := h.Create()
	assert.NotEqual(t, pr.RequestID, retry.RequestID, "a failed step may be retried")
}

// TestBackendKeys: missing, wrong and revoked keys get 401 on every backend route; no route answers without
// a key; unknown paths are 401 without a key and 404 with one; without VERIFIER_API_KEYS everything is 404.
func TestBackendKeys(t *testing.T) {
	h := e2e.New(t, journeyEnv())
	c := newJourney(t, h, map[string]any{"reference": "case-keys"})
	paths := []struct{ method, path string }{
		{http.MethodPost, "/api/backend/journeys"},
		{http.MethodGet, "/api/backend/journeys/" + c.JourneyID},
		{http.MethodGet, "/api/backend/journeys/" + c.JourneyID + "/identity"},
		{http.MethodGet, "/api/backend/journeys/" + c.JourneyID + "/proof"},
		{http.MethodGet, "/api/backend/unknown"},
	}
	revoked := e2e.New(t, map[string]string{"VERIFIER_API_KEYS": "crm:" + backendKey}) // "old" rotated out
	rc := newJourney(t, revoked, map[string]any{"reference": "case-revoked"})
	for _, p := range paths {
		for name, key := range map[string]string{"missing": "", "wrong": backendKey + "x", "prefix": backendKey[:20]} {
			status, body, _ := backend(t, h, key, p.method, p.path, map[string]any{"reference": "x"}, nil)
			assert.Equal(t, http.StatusUnauthorized, status, "%s key on %s %s", name, p.method, p.path)
			assert.Equal(t, "unauthorized", e2e.ErrorCode(t, body))
		}
		path := strings.ReplaceAll(p.path, c.JourneyID, rc.JourneyID)
		status, _, _ := backend(t, revoked, oldKey, p.method, path, map[string]any{"reference": "x"}, nil)
		assert.Equal(t, http.StatusUnauthorized, status, "revoked key on %s %s", p.method, path)
	}
	status, _, _ := backend(t, h, oldKey, http.MethodGet, "/api/backend/journeys/"+c.JourneyID, nil, nil)
	assert.Equal(t, http.StatusOK, status, "both keys work during a rotation")
	status, _, _ = backend(t, h, backendKey, http.MethodGet, "/api/backend/unknown", nil, nil)
	assert.Equal(t, http.StatusNotFound, status)
	status, _, _ = backend(t, h, backendKey, http.MethodGet, "/api/backend/journeys/jrn_unknown", nil, nil)
	assert.Equal(t, http.StatusNotFound, status)

	off := e2e.New(t, nil)
	for _, p := range paths {
		status, _, _ := backend(t, off, backendKey, p.method, p.path, map[string]any{"reference": "x"}, nil)
		assert.Equal(t, http.StatusNotFound, status, "without VERIFIER_API_KEYS: %s %s", p.method, p.path)
	}
}

// TestJourneyCreateBody: the create body's rules.
func TestJourneyCreateBody(t *testing.T) {
	h := e2e.New(t, journeyEnv())
	for name, body := range map[string]any{
		"no reference":      map[string]any{},
		"long reference":    map[string]any{"reference": strings.Repeat("x", 129)},
		"control character": map[string]any{"reference": "a\nb"},
		"unknown field":     map[string]any{"reference": "a", "color": "red"},
		"empty steps":       map[string]any{"reference": "a", "steps": []string{}},
		"wrong order":       map[string]any{"reference": "a", "steps": []string{"presentation", "ipa"}},
		"repeat":            map[string]any{"reference": "a", "steps": []string{"ipa", "ipa"}},
		"nine claims":       map[string]any{"reference": "a", "expectedClaims": map[string]string{"a": "1", "b": "1", "c": "1", "d": "1", "e": "1", "f": "1", "g": "1", "h": "1", "i": "1"}},
		"return URL":        map[string]any{"reference": "a", "returnUrl": "https://evil.example/"},
		"too large":         map[string]any{"reference": "a", "locale": strings.Repeat("x", 17<<10)},
	} {
		status, b, _ := backend(t, h, backendKey, http.MethodPost, "/api/backend/journeys", body, nil)
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, status, "%s: %s", name, b)
	}
}

// TestProofStreamedNotHeld: a multi-megabyte proof archive goes through the route with heap growth well
// under its size.
func TestProofStreamedNotHeld(t *testing.T) {
	const size = 48 << 20
	h := e2e.New(t, journeyEnv())
	h.GIPS.SetProof("application/x-idemia-proof", func() io.Reader { return io.LimitReader(zeros{}, size) })
	c := newJourney(t, h, map[string]any{"reference": "case-proof", "steps": []string{"ipa"}})
	status, _ := open(t, h, h.Browser, c.LaunchURL)
	require.Equal(t, http.StatusSeeOther, status)
	sess := h.CreateSession()
	h.EndSession(sess.SessionID, sandbox.IPACompleted)
	require.Eventually(t, func() bool { return journeyStatus(t, h, c.JourneyID)["status"] == "completed" }, 5*time.Second, 20*time.Millisecond)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.URL+"/api/backend/journeys/"+c.JourneyID+"/proof", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+backendKey)
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapInuse
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/x-idemia-proof", resp.Header.Get("Content-Type"))
	var peak uint64
	hash := sha256.New()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		hash.Write(buf[:k])
		n += int64(k)
		if n%(4<<20) < int64(k) {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
		}
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.EqualValues(t, size, n, "the whole archive arrives")
	growth := int64(peak) - int64(base)
	assert.Less(t, growth, int64(size/4), "heap grew %d bytes for a %d-byte archive", growth, size)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestIPAOnlyJourneyEndToEnd: a journey of the IPA step alone completes with that step; the webhook sends
// ipa.completed then journey.completed, both with journeyId and reference (whatever
// VERIFIER_RESULT_WEBHOOK_IPA says), and the status reads completed with no presentation.
func TestIPAOnlyJourneyEndToEnd(t *testing.T) {
	recv, hook := e2e.NewReceiver(t, 0)
	h := e2e.New(t, journeyEnv(hook, map[string]string{"VERIFIER_RESULT_WEBHOOK_IPA": "false"}))
	c := newJourney(t, h, map[string]any{"reference": "case-ipa-only", "steps": []string{"ipa"}, "locale": "fr"})
	status, _ := open(t, h, h.Browser, c.LaunchURL)
	require.Equal(t, http.StatusSeeOther, status)
	var page struct{ Journey map[string]any }
	h.Call(http.MethodGet, "/api/journey", http.StatusOK, &page)
	assert.Equal(t, map[string]any{"steps": []any{"ipa"}, "locale": "fr"}, page.Journey, "the page shows the journey's steps in its language")
	_, b, _ := h.Do(h.Stranger, http.MethodGet, "/api/journey", nil, nil)
	assert.Contains(t, string(b), `"journey":null`, "another browser is in no journey")
	code, body, _ := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
	require.Equal(t, http.StatusConflict, code, string(body))
	assert.Equal(t, "step_not_in_journey", e2e.ErrorCode(t, body), "the journey has no presentation step")

	sess := h.CreateSession()
	h.EndSession(sess.SessionID, sandbox.IPACompleted)
	require.Eventually(t, func() bool { return journeyStatus(t, h, c.JourneyID)["status"] == "completed" }, 5*time.Second, 20*time.Millisecond)
	st := journeyStatus(t, h, c.JourneyID)
	assert.Equal(t, []any{"ipa"}, st["steps"])
	assert.Nil(t, st["presentation"])
	ipa := st["ipa"].(map[string]any)
	assert.Equal(t, sess.SessionID, ipa["sessionId"])
	assert.Equal(t, "completed", ipa["status"])

	waitEvents(t, recv, 2)
	time.Sleep(200 * time.Millisecond) // nothing more follows
	events := recv.Accepted()
	require.Len(t, events, 2)
	byType := map[string]map[string]any{} // several delivery workers: the arrival order is not guaranteed
	for _, ev := range events {
		data := ev["data"].(map[string]any)
		byType[ev["type"].(string)] = data
		assert.Equal(t, c.JourneyID, data["journeyId"], ev["type"])
		assert.Equal(t, "case-ipa-only", data["reference"], ev["type"])
	}
	require.Contains(t, byType, "ipa.completed")
	require.Contains(t, byType, "journey.completed")
	assert.Equal(t, sess.SessionID, byType["ipa.completed"]["sessionId"])
	done := byType["journey.completed"]
	assert.Equal(t, "completed", done["status"])
	assert.Nil(t, done["presentation"])
	assert.Equal(t, sess.SessionID, done["ipa"].(map[string]any)["sessionId"])

	code, payload, _ := backend(t, h, backendKey, http.MethodGet, "/api/backend/journeys/"+c.JourneyID+"/identity", nil, nil)
	require.Equal(t, http.StatusOK, code, string(payload))
	code, _, _ = backend(t, h, backendKey, http.MethodGet, "/api/backend/journeys/"+c.JourneyID+"/proof", nil, nil)
	assert.Equal(t, http.StatusOK, code)
}

// TestJourneyPageResumesItsOwnSteps: a browser that ran an IPA session of its own before opening a launch link
// resumes the journey's steps, not that earlier session (it would have shown the journey's first step done).
func TestJourneyPageResumesItsOwnSteps(t *testing.T) {
	h := e2e.New(t, journeyEnv())
	earlier := h.CreateSession()
	h.EndSession(earlier.SessionID, sandbox.IPACompleted)
	c := newJourney(t, h, map[string]any{"reference": "case-own-steps", "steps": []string{"ipa", "presentation"}})
	status, _ := open(t, h, h.Browser, c.LaunchURL)
	require.Equal(t, http.StatusSeeOther, status)
	var page struct {
		IPASession          map[string]any
		PresentationRequest map[string]any
	}
	h.Call(http.MethodGet, "/api/journey", http.StatusOK, &page)
	assert.Nil(t, page.IPASession, "the journey has no IPA session yet")
	assert.Nil(t, page.PresentationRequest)

	sess := h.CreateSession()
	require.NotEqual(t, earlier.SessionID, sess.SessionID)
	h.Call(http.MethodGet, "/api/journey", http.StatusOK, &page)
	require.NotNil(t, page.IPASession)
	assert.Equal(t, sess.SessionID, page.IPASession["sessionId"], "the journey's own session")

	again := h.CreateSession()
	assert.Equal(t, sess.SessionID, again.SessionID, "the pending step is resumed")
	status, metrics, _ := h.Do(http.DefaultClient, http.MethodGet, "/metrics", nil, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(metrics), `verifier_created_total{kind="ipa"} 2`, "the earlier session and the step: a resume creates nothing")
}
