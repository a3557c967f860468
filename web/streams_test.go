package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/web"
)

// streamServer serves the fakes over real HTTP/1 (so streams take their connections over) with records
// req-0…req-n and sess-0…sess-n owned by cookie.
func streamServer(t *testing.T, cookie string, n int, kv ...string) (*web.Server, *httptest.Server) {
	t.Helper()
	records := newOwnedRecords()
	for i := range n {
		records.add("req-"+strconv.Itoa(i), web.HashOwner(cookie))
		records.add("sess-"+strconv.Itoa(i), web.HashOwner(cookie))
	}
	srv := newServerWith(t, ownedPresentations{records}, ownedSessions{records}, kv...)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts
}

// openStream GETs an events route with cookie; on 200 it reads the first event, so the stream is open.
func openSlotStream(t *testing.T, base, path, cookie string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: web.SecureCookieName, Value: cookie})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode == http.StatusOK {
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "event: status\n", line)
	}
	return resp
}

func eventsPath(i int) string {
	if i%2 == 0 {
		return "/api/verifier/presentation-requests/req-" + strconv.Itoa(i/2) + "/events"
	}
	return "/api/ipa/sessions/sess-" + strconv.Itoa(i/2) + "/events"
}

// TestStreamsPerBrowser: one browser holds at most VERIFIER_STREAMS_PER_BROWSER (default 8) event streams,
// both kinds together; the 9th is refused with 429 too_many_streams, another browser is not affected, and
// closing a stream frees its slot.
func TestStreamsPerBrowser(t *testing.T) {
	cookie, other := cookieValue(), cookieValue()
	srv, ts := streamServer(t, cookie, 5)
	var open []*http.Response
	for i := range 8 {
		resp := openSlotStream(t, ts.URL, eventsPath(i), cookie)
		require.Equal(t, http.StatusOK, resp.StatusCode, "stream %d", i+1)
		open = append(open, resp)
	}
	require.Equal(t, 8, srv.StreamsHeld(web.HashOwner(cookie)))

	for _, i := range []int{8, 9} { // a presentation request and an IPA session
		resp := openSlotStream(t, ts.URL, eventsPath(i), cookie)
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "stream 9 (%s)", eventsPath(i))
		assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		var body strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&body)
		assert.Equal(t, "too_many_streams", errorCode(t, []byte(body.String())))
	}
	assert.Equal(t, http.StatusNotFound, openSlotStream(t, ts.URL, eventsPath(0), other).StatusCode,
		"another browser's stream is refused for the owner check, not the bound")

	require.NoError(t, open[3].Body.Close()) // the client leaves: the taken-over connection's goroutine ends it
	require.Eventually(t, func() bool { return srv.StreamsHeld(web.HashOwner(cookie)) == 7 }, 10*time.Second, 10*time.Millisecond,
		"closing a stream gives its slot back")
	assert.Equal(t, http.StatusOK, openSlotStream(t, ts.URL, eventsPath(9), cookie).StatusCode, "the freed slot is usable")
	assert.Equal(t, http.StatusTooManyRequests, openSlotStream(t, ts.URL, eventsPath(8), cookie).StatusCode, "and then the bound holds again")
}

// TestStreamSlotFreedWithoutTakeOver: a stream served on the handler's goroutine (no hijack, as on HTTP/2)
// gives its slot back when the client leaves, and a refused or failed stream holds none.
func TestStreamSlotFreedWithoutTakeOver(t *testing.T) {
	cookie := cookieValue()
	srv, _ := streamServer(t, cookie, 1, "VERIFIER_STREAMS_PER_BROWSER", "1")
	owner := web.HashOwner(cookie)
	ctx, leave := context.WithCancel(t.Context())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "https://verifier.example.com"+eventsPath(0), nil)
	req.AddCookie(&http.Cookie{Name: web.SecureCookieName, Value: cookie})
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}()
	require.Eventually(t, func() bool { return srv.StreamsHeld(owner) == 1 }, 10*time.Second, 10*time.Millisecond)

	second := httptest.NewRequest(http.MethodGet, "https://verifier.example.com"+eventsPath(1), nil)
	second.AddCookie(&http.Cookie{Name: web.SecureCookieName, Value: cookie})
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, second)
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "too_many_streams", errorCode(t, rec.Body.Bytes()))

	leave()
	<-done
	assert.Zero(t, srv.StreamsHeld(owner), "the slot is back once the handler returns")

	unknown := httptest.NewRequest(http.MethodGet, "https://verifier.example.com/api/ipa/sessions/nope/events", nil)
	unknown.AddCookie(&http.Cookie{Name: web.SecureCookieName, Value: cookie})
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, unknown)
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Zero(t, srv.StreamsHeld(owner), "a refused stream takes no slot")
}
