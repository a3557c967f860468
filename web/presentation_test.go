package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
)

func TestCreateSendsTheDocumentedBody(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		issuers    []string
		validation map[string]any
	}{
		{"us region, no face check", nil, []string{e2e.USDID},
			map[string]any{"allowRevoked": false, "validateLinkedDomain": true}},
		{"eu region trusting both, face check", map[string]string{"VERIFIER_REGION": "eu", "VERIFIER_ACCEPTED_REGIONS": "eu,us", "ENTRA_FACE_CHECK": "true", "ENTRA_FACE_CHECK_THRESHOLD": "80"},
			[]string{e2e.EUDID, e2e.USDID},
			map[string]any{"allowRevoked": false, "validateLinkedDomain": true,
				"faceCheck": map[string]any{"sourcePhotoClaimName": "portrait", "matchConfidenceThreshold": 80.0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := e2e.New(t, tc.env)
			status, body, hdr := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
			require.Equal(t, http.StatusCreated, status, string(body))
			var c e2e.Created
			require.NoError(t, json.Unmarshal(body, &c))

			got := h.RS.Last()
			require.NotNil(t, got)
			assert.Equal(t, c.RequestID, got.RequestID)
			assert.True(t, strings.HasPrefix(got.Header.Get("Authorization"), "Bearer "))
			state := got.Request.Callback.State
			assert.Regexp(t, `^[A-Za-z0-9_-]{22}$`, state, "128-bit base64url state")
			want := map[string]any{
				"authority": "did:web:verifier.example.com", "includeQRCode": false, "includeReceipt": false,
				"registration": map[string]any{"clientName": "Idemia DID", "purpose": "Open your account"},
				"callback": map[string]any{
					"url": h.URL + "/api/verifier/callback", "state": state,
					"headers": map[string]any{"api-key": verifier.APIKey([]byte(e2e.TestSecret), state)},
				},
				"requestedCredentials": []any{map[string]any{
					"type": "VerifiedIdentity", "purpose": "Open your account", "acceptedIssuers": e2e.ToAny(tc.issuers),
					"configuration": map[string]any{"validation": tc.validation},
				}},
			}
			var sent map[string]any
			require.NoError(t, json.Unmarshal(got.Body, &sent))
			assert.Equal(t, want, sent)

			assert.Equal(t, "/api/verifier/presentation-requests/"+c.RequestID+"/qr.png", c.QRCodeURL)
			assert.True(t, strings.HasPrefix(c.URL, "openid-vc://?request_uri=https://"))
			exp, err := time.Parse(time.RFC3339, c.ExpiresAt)
			require.NoError(t, err)
			assert.WithinDuration(t, time.Now().Add(5*time.Minute), exp, 5*time.Second, "expiresAt is Microsoft's expiry")
			cookie := hdr.Get("Set-Cookie")
			assert.Contains(t, cookie, "verifier_session=")
			assert.Contains(t, cookie, "HttpOnly")
			assert.Contains(t, cookie, "SameSite=Lax")
			assert.NotContains(t, cookie, "Secure", "http://127.0.0.1 cannot carry a Secure cookie")
			assert.Equal(t, "no-store", hdr.Get("Cache-Control"))

			// A second create from the same browser reuses its cookie and binds both requests to it.
			_, _, hdr2 := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
			assert.Empty(t, hdr2.Get("Set-Cookie"))
			assert.Equal(t, "created", h.StatusOf(c.RequestID)["status"])
		})
	}
}

func TestReadsNeedTheCreatorCookie(t *testing.T) {
	h := e2e.New(t, nil)
	c := h.Create()
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))
	base := "/api/verifier/presentation-requests/" + c.RequestID
	for _, path := range []string{base, base + "/qr.png", base + "/events"} {
		for name, client := range map[string]*http.Client{"another browser": h.Stranger, "no cookie": http.DefaultClient} {
			status, body, _ := h.Do(client, http.MethodGet, path, nil, nil)
			assert.Equal(t, http.StatusNotFound, status, "%s %s", name, path)
			assert.Equal(t, "not_found", e2e.ErrorCode(t, body))
			assert.NotContains(t, string(body), "Megan")
		}
	}
	status, body, _ := h.Do(h.Browser, http.MethodGet, "/api/verifier/presentation-requests/unknown", nil, nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "not_found", e2e.ErrorCode(t, body), "an unknown id reads the same as another browser's")
	assert.Equal(t, "verified", h.StatusOf(c.RequestID)["status"])
}

func TestManyCreatesOneTokenCall(t *testing.T) {
	h := e2e.New(t, nil)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			status, body, _ := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
			assert.Equal(t, http.StatusCreated, status, string(body))
		})
	}
	wg.Wait()
	h.Create()
	assert.Equal(t, 1, h.IdP.TokenCalls(), "MSAL's cache and our singleflight share one token")
	assert.Equal(t, 21, h.RS.Calls())
}

func TestUpstreamFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(h *e2e.Harness)
		wantCode  int
		wantCalls int
	}{
		{"429 with Retry-After is retried", func(h *e2e.Harness) { h.RS.Fail(sandbox.Throttled) }, http.StatusCreated, 2},
		{"503 twice then success", func(h *e2e.Harness) { h.RS.Fail(sandbox.Unavailable, sandbox.Unavailable) }, http.StatusCreated, 3},
		{"503 three times gives up", func(h *e2e.Harness) { h.RS.Fail(sandbox.Unavailable, sandbox.Unavailable, sandbox.Unavailable) }, http.StatusBadGateway, 3},
		{"400 is not retried", func(h *e2e.Harness) {
			h.RS.Fail(sandbox.Failure{Status: 400, Code: "badRequest", Inner: "badOrMissingField", Message: "The request does not contain a valid authority DID."})
		}, http.StatusBadGateway, 1},
		{"token without roles (no admin consent)", func(h *e2e.Harness) { h.IdP.SetRoles("User.Read") }, http.StatusBadGateway, 1},
		{"wrong client secret", func(h *e2e.Harness) { h.IdP.SetClientSecret("rotated") }, http.StatusBadGateway, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := e2e.New(t, nil)
			tc.setup(h)
			status, body, _ := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
			assert.Equal(t, tc.wantCode, status, string(body))
			assert.Equal(t, tc.wantCalls, h.RS.Calls())
			if status != http.StatusCreated {
				assert.Equal(t, "upstream_error", e2e.ErrorCode(t, body))
			}
		})
	}
}

func TestEventsFollowTheRequest(t *testing.T) {
	h := e2e.New(t, nil)
	c := h.Create()
	events := h.Events(t, "/api/verifier/presentation-requests/"+c.RequestID+"/events")
	assert.Equal(t, "created", e2e.NextEvent(t, events)["status"])
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Retrieved()))
	assert.Equal(t, "retrieved", e2e.NextEvent(t, events)["status"])
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Retrieved()))
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))
	last := e2e.LastEvent(t, events)
	assert.Equal(t, "verified", last["status"], "a repeated step sends no event")
	assert.Equal(t, "Bowen", last["claims"].(map[string]any)["lastName"])
}

// TestEventStreamAnswer: a stream, which leaves net/http after its first event, answers the headers every
// answer carries, is counted while open, ends (connection closed) after a final status or at shutdown, and
// is dropped as soon as its client leaves.
func TestEventStreamAnswer(t *testing.T) {
	h := e2e.New(t, nil)
	watchers := func() string {
		_, body, _ := h.Do(http.DefaultClient, http.MethodGet, "/metrics", nil, nil)
		for line := range strings.Lines(string(body)) {
			if strings.HasPrefix(line, `verifier_sse_watchers{kind="presentation"}`) {
				return strings.Fields(line)[1]
			}
		}
		return "missing"
	}
	c := h.Create()
	resp := h.OpenEvents(t, "/api/verifier/presentation-requests/"+c.RequestID+"/events", map[string]string{"X-Request-Id": "stream-1"})
	for k, v := range map[string]string{
		"X-Request-Id": "stream-1", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Cache-Control": "no-store", "X-Accel-Buffering": "no",
	} {
		assert.Equal(t, v, resp.Header.Get(k), k)
	}
	// net/http would have answered chunked on a connection kept alive: these show the connection was taken over.
	assert.True(t, resp.Close, "Connection: close")
	assert.Empty(t, resp.TransferEncoding, "no chunked encoding")
	events := e2e.ReadEvents(resp)
	assert.Equal(t, "created", e2e.NextEvent(t, events)["status"])
	assert.Equal(t, "1", watchers())
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))
	assert.Equal(t, "verified", e2e.LastEvent(t, events)["status"])
	assert.Eventually(t, func() bool { return watchers() == "0" }, 5*time.Second, 10*time.Millisecond)

	pending := h.Create()
	leaving := h.OpenEvents(t, "/api/verifier/presentation-requests/"+pending.RequestID+"/events", nil)
	assert.Equal(t, "created", e2e.NextEvent(t, e2e.ReadEvents(leaving))["status"])
	assert.Equal(t, "1", watchers())
	leaving.Body.Close()
	assert.Eventually(t, func() bool { return watchers() == "0" }, 5*time.Second, 10*time.Millisecond,
		"a client that leaves is noticed at once, not at the next keep-alive")

	events = h.Events(t, "/api/verifier/presentation-requests/"+pending.RequestID+"/events")
	assert.Equal(t, "created", e2e.NextEvent(t, events)["status"])
	h.App.Server.Close() // what a SIGTERM does
	select {
	case _, ok := <-events:
		assert.False(t, ok, "the stream ends at shutdown, with no other event")
	case <-time.After(10 * time.Second):
		t.Fatal("the stream is still open 10 s after shutdown")
	}
}

// TestEventStreamEndsWhenTheClientSends: a stream's client has nothing to send after its request; one that
// does (a pipelined request, junk) has its stream closed rather than drained.
func TestEventStreamEndsWhenTheClientSends(t *testing.T) {
	h := e2e.New(t, nil)
	c := h.Create()
	u, err := url.Parse(h.URL)
	require.NoError(t, err)
	var cookie string
	for _, ck := range h.Browser.Jar.Cookies(u) {
		if ck.Name == web.CookieName {
			cookie = ck.Value
		}
	}
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(conn, "GET /api/verifier/presentation-requests/%s/events HTTP/1.1\r\nHost: %s\r\nCookie: %s=%s\r\n\r\n",
		c.RequestID, u.Host, web.CookieName, cookie)
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		if strings.Contains(line, `"status":"created"`) {
			break
		}
	}
	_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	rest, err := io.ReadAll(r) // until the server closes: EOF, or a reset since the rest of what we sent is unread
	if err != nil {
		require.ErrorIs(t, err, syscall.ECONNRESET, "the server closes the stream instead of holding it open")
	}
	assert.NotContains(t, string(rest), "HTTP/1.1", "the pipelined request is not answered on a stream")
}

// TestEventStreamOverHTTP2: where the connection cannot be taken over (HTTP/2 behind a TLS front), the
// stream is served by net/http itself, with the same events.
func TestEventStreamOverHTTP2(t *testing.T) {
	h := e2e.New(t, nil)
	front := httptest.NewUnstartedServer(h.App.Server.Handler())
	front.EnableHTTP2 = true
	front.StartTLS()
	t.Cleanup(front.Close)
	c := h.Create()
	client := front.Client()
	client.Jar = h.Browser.Jar // cookies are per host, not per port
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, front.URL+"/api/verifier/presentation-requests/"+c.RequestID+"/events", nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, resp.ProtoMajor)
	events := e2e.ReadEvents(resp)
	assert.Equal(t, "created", e2e.NextEvent(t, events)["status"])
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Retrieved()))
	assert.Equal(t, "retrieved", e2e.NextEvent(t, events)["status"])
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))
	assert.Equal(t, "verified", e2e.LastEvent(t, events)["status"])
}

func TestQRCode(t *testing.T) {
	h := e2e.New(t, nil)
	c := h.Create()
	status, first, hdr := h.Do(h.Browser, http.MethodGet, c.QRCodeURL, nil, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "image/png", hdr.Get("Content-Type"))
	img, err := png.Decode(bytes.NewReader(first))
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 200)
	_, second, _ := h.Do(h.Browser, http.MethodGet, c.QRCodeURL, nil, nil)
	assert.Equal(t, first, second)
}

func TestCrossSiteCreateRefused(t *testing.T) {
	h := e2e.New(t, nil)
	for name, hdr := range map[string]map[string]string{
		"foreign Origin":            {"Origin": "https://evil.example"},
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site"},
	} {
		status, body, _ := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, hdr)
		assert.Equal(t, http.StatusForbidden, status, name)
		assert.Equal(t, "cross_origin", e2e.ErrorCode(t, body))
	}
	assert.Equal(t, 0, h.RS.Calls(), "a refused create calls nobody")
	status, _, _ := h.Do(h.Browser, http.MethodPost, "/api/verifier/presentation-requests", nil, map[string]string{"Origin": h.URL, "Sec-Fetch-Site": "same-origin"})
	assert.Equal(t, http.StatusCreated, status)
}

// TestClaimsGoAfterTheirRetention: verified claims stay readable for the configured retention after the
// verification, then only the status remains.
func TestClaimsGoAfterTheirRetention(t *testing.T) {
	h := e2e.New(t, map[string]string{"VERIFIER_CLAIMS_RETENTION": "500ms"})
	c := h.Create()
	require.Equal(t, http.StatusOK, h.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(e2e.USDID, e2e.Person()))))
	require.NotNil(t, h.StatusOf(c.RequestID)["claims"], "the page reads the claims at once")
	var after map[string]any
	assert.Eventually(t, func() bool { after = h.StatusOf(c.RequestID); return after["claims"] == nil }, 10*time.Second, 50*time.Millisecond,
		"claims are deleted once their retention ends")
	assert.Equal(t, "verified", after["status"])
}
