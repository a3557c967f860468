package ipa_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

func TestCreateSessionSendsTheDocumentedRequest(t *testing.T) {
	f := newFakes(t)
	c := f.client(t)

	id, err := c.CreateSession(t.Context(),
		"https://verifier.contoso.com/api/ipa/callback/7mQz0cVd2kq1p8Xr3uYb6w", "https://verifier.contoso.com/ipa/done")
	require.NoError(t, err)

	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, id)
	reqs := f.ipa.Requests()
	require.Len(t, reqs, 1)
	fixture, err := os.ReadFile("testdata/create-session-request.json")
	require.NoError(t, err)
	assert.JSONEq(t, string(fixture), string(reqs[0].Body))
	assert.Equal(t, `{"callbackUrl":"https://verifier.contoso.com/api/ipa/callback/7mQz0cVd2kq1p8Xr3uYb6w","gotoUrl":"https://verifier.contoso.com/ipa/done"}`,
		string(reqs[0].Body))
	assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	token, ok := strings.CutPrefix(reqs[0].Header.Get("Authorization"), "Bearer ")
	require.True(t, ok, "Authorization: Bearer")
	assert.True(t, f.cognito.Valid(token), "token issued by the Cognito fake")
	s, ok := f.ipa.Session(id)
	require.True(t, ok)
	assert.Equal(t, "https://verifier.contoso.com/api/ipa/callback/7mQz0cVd2kq1p8Xr3uYb6w", s.CallbackURL)
	assert.Equal(t, "https://verifier.contoso.com/ipa/done", s.GotoURL)
}

func TestTokenIsReused(t *testing.T) {
	f := newFakes(t)
	c := f.client(t)
	for range 10 {
		_, err := c.CreateSession(t.Context(), "https://v.example/cb", "https://v.example/done")
		require.NoError(t, err)
	}
	assert.Equal(t, 1, f.cognito.TokenRequests())
	assert.Len(t, f.ipa.Requests(), 10)
}

func TestConcurrentColdCallersShareOneTokenRequest(t *testing.T) {
	f := newFakes(t)
	c := f.client(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			_, err := c.CreateSession(context.Background(), "https://v.example/cb", "https://v.example/done")
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, f.cognito.TokenRequests())
	assert.Len(t, f.ipa.Requests(), n)
}

func TestTokenIsRefreshedBeforeExpiry(t *testing.T) {
	t.Run("default delta of 10 s", func(t *testing.T) {
		t.Parallel()
		f := newFakes(t)
		f.cognito.SetExpiresIn(11) // valid for 1 s once the 10 s margin is taken
		c := f.client(t)
		require.NoError(t, c.CheckToken(t.Context()))
		require.NoError(t, c.CheckToken(t.Context()))
		assert.Equal(t, 1, f.cognito.TokenRequests())
		time.Sleep(2 * time.Second)
		_, err := c.CreateSession(t.Context(), "https://v.example/cb", "")
		require.NoError(t, err)
		assert.Equal(t, 2, f.cognito.TokenRequests())
	})
	t.Run("configured delta", func(t *testing.T) {
		t.Parallel()
		f := newFakes(t)
		f.cognito.SetExpiresIn(60)
		f.cfg.TokenExpiryDelta = 61 * time.Second // every token is already too close to its expiry
		c := f.client(t)
		require.NoError(t, c.CheckToken(t.Context()))
		require.NoError(t, c.CheckToken(t.Context()))
		assert.Equal(t, 2, f.cognito.TokenRequests())
	})
}

func TestCreateSessionUpstreamFailures(t *testing.T) {
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, f *fakes)
		wantErr string
		status  int
	}{
		{name: "5xx", setup: func(_ *testing.T, f *fakes) { f.ipa.SetFailure(sandbox.IPAServerError) }, status: 503},
		{name: "connection dropped", setup: func(_ *testing.T, f *fakes) { f.ipa.SetFailure(sandbox.IPADisconnect) }},
		{name: "timeout", setup: func(_ *testing.T, f *fakes) {
			f.ipa.SetFailure(sandbox.IPAHang)
			hc := *f.hc
			// The token call to the Cognito fake shares the client: it must fit in the timeout on a loaded CI
			// machine (at 200 ms it was cut while reading its 200 answer).
			hc.Timeout = time.Second
			f.cfg.HTTPClient = &hc
		}},
		{name: "down", setup: func(_ *testing.T, f *fakes) { f.ipaSrv.Close() }},
		{name: "cognito refuses the credentials", setup: func(_ *testing.T, f *fakes) { f.cfg.ClientSecret = "wrong" },
			status: 401, wantErr: "token"},
		{name: "cognito down", setup: func(_ *testing.T, f *fakes) { f.cognitoSrv.Close() }, wantErr: "token"},
		{name: "answer not JSON", setup: serveCreate(answer(200, "<html>")), status: 200},
		{name: "sessionId not a UUID", setup: serveCreate(answer(201, `{"sessionId":"../../admin"}`)), status: 201},
		{name: "no sessionId", setup: serveCreate(answer(200, `{}`)), status: 200},
		{name: "answer too large", setup: serveCreate(answer(200, `{"sessionId":"`+strings.Repeat("a", 70<<10)+`"}`)), status: 200},
		{name: "4xx", setup: serveCreate(answer(400, `{"message":"bad"}`)), status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakes(t)
			tt.setup(t, f)
			c := f.client(t)
			id, err := c.CreateSession(t.Context(), "https://v.example/cb", "https://v.example/done")
			require.Error(t, err)
			assert.Empty(t, id)
			assert.ErrorIs(t, err, ipa.ErrUpstream)
			ue, ok := errors.AsType[*ipa.UpstreamError](err)
			require.True(t, ok)
			assert.Equal(t, tt.status, ue.StatusCode)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, ue.Op)
			}
			assert.NotContains(t, err.Error(), testClientSecret)
		})
	}
}

// serveCreate points the create-session URL at a server answering with h.
func serveCreate(h http.Handler) func(t *testing.T, f *fakes) {
	return func(t *testing.T, f *fakes) {
		srv := httptest.NewTLSServer(h)
		t.Cleanup(srv.Close)
		f.cfg.CreateSessionURL = srv.URL + "/api/v1/sessions"
	}
}

func TestCreateSessionAcceptsAny2xxAndUpperCaseUUID(t *testing.T) {
	f := newFakes(t)
	serveCreate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sessionId":"BA7CE9DC-C182-4907-875C-CE1942239099","extra":1}`))
	}))(t, f)
	id, err := f.client(t).CreateSession(t.Context(), "", "")
	require.NoError(t, err)
	assert.Equal(t, "ba7ce9dc-c182-4907-875c-ce1942239099", id)
}

func TestUnauthorizedAnswerDropsTheToken(t *testing.T) {
	f := newFakes(t)
	var mu sync.Mutex
	calls := 0
	serveCreate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"sessionId":"ba7ce9dc-c182-4907-875c-ce1942239099"}`))
	}))(t, f)
	c := f.client(t)
	_, err := c.CreateSession(t.Context(), "", "")
	require.ErrorIs(t, err, ipa.ErrUpstream)
	_, err = c.CreateSession(t.Context(), "", "")
	require.NoError(t, err)
	assert.Equal(t, 2, f.cognito.TokenRequests())
}

func TestNewReportsEveryBadSetting(t *testing.T) {
	_, err := ipa.New(ipa.Config{CognitoURL: "http://cognito.example", CreateSessionURL: "not a url", IDVURL: "proofing.idemia.io"})
	require.Error(t, err)
	for _, want := range []string{"IPA_COGNITO_URL", "IPA_CREATE_SESSION_URL", "IPA_CLIENT_ID", "IPA_CLIENT_SECRET", "GIPS_RS_API_KEY"} {
		assert.Contains(t, err.Error(), want)
	}
}
