package sandbox_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// do sends a request to srv and returns the status and body.
func do(t *testing.T, srv *httptest.Server, method, path string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data)
}

var form = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

func TestCognito(t *testing.T) {
	cognito := sandbox.NewCognito("id", "secret")
	srv := httptest.NewTLSServer(cognito)
	defer srv.Close()
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"secret"}}
	with := func(k, v string) string {
		f := maps.Clone(good)
		f.Set(k, v)
		return f.Encode()
	}
	tests := []struct {
		name, method, path string
		header             http.Header
		body               string
		status             int
		error              string
	}{
		{"wrong secret", "POST", "/oauth2/token", form, with("client_secret", "nope"), 401, "invalid_client"},
		{"wrong client", "POST", "/oauth2/token", form, with("client_id", "nope"), 401, "invalid_client"},
		{"basic auth only", "POST", "/oauth2/token", http.Header{"Content-Type": form["Content-Type"],
			"Authorization": {"Basic aWQ6c2VjcmV0"}}, "grant_type=client_credentials", 401, "invalid_client"},
		{"other grant", "POST", "/oauth2/token", form, with("grant_type", "password"), 400, "unsupported_grant_type"},
		{"JSON body", "POST", "/oauth2/token", http.Header{"Content-Type": {"application/json"}}, `{}`, 400, "invalid_request"},
		{"GET", "GET", "/oauth2/token", nil, "", 405, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, srv, tt.method, tt.path, tt.header, tt.body)
			assert.Equal(t, tt.status, status)
			assert.JSONEq(t, `{"error":"`+tt.error+`"}`, body)
		})
	}

	cognito.SetExpiresIn(42)
	status, body := do(t, srv, "POST", "/oauth2/token", form, good.Encode())
	require.Equal(t, 200, status)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	assert.Equal(t, 42, tok.ExpiresIn)
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.True(t, cognito.Valid(tok.AccessToken))
	assert.False(t, cognito.Valid("forged"))
	assert.Equal(t, len(tests)+1, cognito.TokenRequests())
}

func TestIPACreateSession(t *testing.T) {
	cognito := sandbox.NewCognito("id", "secret")
	cognitoSrv := httptest.NewTLSServer(cognito)
	defer cognitoSrv.Close()
	_, body := do(t, cognitoSrv, "POST", "/oauth2/token", form, "grant_type=client_credentials&client_id=id&client_secret=secret")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tok))

	p := sandbox.NewIPA(cognito, "app")
	srv := httptest.NewTLSServer(p)
	defer srv.Close()
	bearer := http.Header{"Authorization": {"Bearer " + tok.AccessToken}, "Content-Type": {"application/json"}}
	tests := []struct {
		name   string
		header http.Header
		body   string
		status int
	}{
		{"no token", http.Header{"Content-Type": {"application/json"}}, `{}`, 401},
		{"forged token", http.Header{"Authorization": {"Bearer forged"}}, `{}`, 401},
		{"not JSON", bearer, `callbackUrl=x`, 400},
		{"wrong type", bearer, `{"callbackUrl":1}`, 400},
		{"both URLs optional", bearer, `{}`, 200},
		{"created", bearer, `{"callbackUrl":"https://v.example/cb/t","gotoUrl":"https://v.example/done"}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, srv, "POST", "/api/v1/sessions", tt.header, tt.body)
			assert.Equal(t, tt.status, status)
			if status == 200 {
				var answer map[string]string
				require.NoError(t, json.Unmarshal([]byte(body), &answer))
				assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, answer["sessionId"])
				s, ok := p.Session(answer["sessionId"])
				require.True(t, ok)
				var req map[string]string
				require.NoError(t, json.Unmarshal([]byte(tt.body), &req))
				assert.Equal(t, req["callbackUrl"], s.CallbackURL)
			}
		})
	}
	reqs := p.Requests()
	require.Len(t, reqs, len(tests))
	assert.Equal(t, tests[len(tests)-1].body, string(reqs[len(reqs)-1].Body))
	assert.Equal(t, "Bearer "+tok.AccessToken, reqs[len(reqs)-1].Header.Get("Authorization"))

	p.SetFailure(sandbox.IPAServerError)
	status, _ := do(t, srv, "POST", "/api/v1/sessions", bearer, `{}`)
	assert.Equal(t, 503, status)
}

func TestIPACallbackShapesMatchTheFixtures(t *testing.T) {
	cognito := sandbox.NewCognito("id", "secret")
	p := sandbox.NewIPA(cognito, "app")
	_, err := p.Callback("unknown", sandbox.IPAError)
	require.Error(t, err, "unknown session")

	// Create a session by calling the handler directly: the fake is a plain http.Handler.
	rec := httptest.NewRecorder()
	srv := httptest.NewTLSServer(cognito)
	defer srv.Close()
	_, body := do(t, srv, "POST", "/oauth2/token", form, "grant_type=client_credentials&client_id=id&client_secret=secret")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	req := httptest.NewRequest("POST", "/api/v1/sessions", strings.NewReader(`{"callbackUrl":"https://v.example/cb"}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	p.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	var created map[string]string
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))
	id := created["sessionId"]

	_, err = p.Callback(id, sandbox.IPACompleted)
	require.Error(t, err, "a completed callback needs the GIPS fake")
	g := sandbox.NewGIPS("key")
	p.SetGIPS(g, "https://gips.example/")

	for outcome, fixture := range map[sandbox.IPAOutcome]string{
		sandbox.IPACompleted:        "callback-completed.json",
		sandbox.IPAError:            "callback-error.json",
		sandbox.IPAHeartbeatTimeout: "callback-heartbeat-timeout.json",
	} {
		got, err := p.Callback(id, outcome)
		require.NoError(t, err)
		want, err := os.ReadFile("../ipa/testdata/" + fixture)
		require.NoError(t, err)
		var g1, w1 map[string]any
		require.NoError(t, json.Unmarshal(got, &g1))
		require.NoError(t, json.Unmarshal(want, &w1))
		assert.Equal(t, slices.Sorted(maps.Keys(w1)), slices.Sorted(maps.Keys(g1)), fixture)
		assert.IsType(t, float64(0), g1["timestamp"])
		if outcome == sandbox.IPACompleted {
			ident := g1["identityId"].(string)
			assert.True(t, g.HasIdentity(ident))
			assert.Equal(t, "https://gips.example/gips/v1/identities/"+ident+"/proof", g1["proofUrl"])
		}
	}
}

func TestGIPS(t *testing.T) {
	g := sandbox.NewGIPS("key")
	srv := httptest.NewTLSServer(g)
	defer srv.Close()
	id := g.AddIdentity("VERIFIED", "LOA2")
	key := http.Header{"Apikey": {"key"}}

	status, _ := do(t, srv, "GET", "/gips/v1/identities/"+id, nil, "")
	assert.Equal(t, 401, status)
	status, _ = do(t, srv, "GET", "/gips/v1/identities/"+id, http.Header{"Apikey": {"wrong"}}, "")
	assert.Equal(t, 401, status)
	status, body := do(t, srv, "GET", "/gips/v1/identities/"+id, key, "")
	require.Equal(t, 200, status)
	var ident map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &ident))
	assert.Equal(t, id, ident["id"])
	assert.Equal(t, "VERIFIED", ident["status"])
	assert.Equal(t, "LOA2", ident["levelOfAssurance"])

	status, body = do(t, srv, "GET", "/gips/v1/identities/"+id+"/proof", key, "")
	assert.Equal(t, 200, status)
	assert.True(t, strings.HasPrefix(body, "PK"))
	status, _ = do(t, srv, "GET", "/gips/v1/identities/"+id, key, "")
	assert.Equal(t, 404, status, "the identity is discarded with its proof")

	assert.Equal(t, 5, g.Requests())
	assert.Equal(t, 2, g.IdentityRequests())
	assert.Equal(t, 1, g.ProofRequests())
}
