package ipa_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
)

func TestIdentity(t *testing.T) {
	f := newFakes(t)
	c := f.client(t)
	id := f.gips.AddIdentity("VERIFIED", "LOA2")

	got, err := c.Identity(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, store.IdentitySummary{LevelOfAssurance: "LOA2", Status: "VERIFIED"}, got)
	assert.Equal(t, 1, f.gips.IdentityRequests(), "the fake counts only requests with the right apikey")

	_, err = c.Identity(t.Context(), "gips-00000000-0000-4000-8000-000000000000")
	require.ErrorIs(t, err, ipa.ErrUpstream)
	ue, _ := errors.AsType[*ipa.UpstreamError](err)
	assert.Equal(t, http.StatusNotFound, ue.StatusCode)
}

func TestIdentityWithWrongKey(t *testing.T) {
	f := newFakes(t)
	f.cfg.GIPSAPIKey = "wrong"
	_, err := f.client(t).Identity(t.Context(), f.gips.AddIdentity("VERIFIED", "LOA2"))
	require.ErrorIs(t, err, ipa.ErrUpstream)
	ue, _ := errors.AsType[*ipa.UpstreamError](err)
	assert.Equal(t, http.StatusUnauthorized, ue.StatusCode)
	assert.Equal(t, 0, f.gips.IdentityRequests())
}

func TestIdentityRejectsOddIDsWithoutARequest(t *testing.T) {
	f := newFakes(t)
	c := f.client(t)
	for _, id := range []string{"", "gips-", "../admin", "gips-a/b", "gips-a%2fb", "gips-a?x=1", "gips-a b", "other-123",
		"gips-" + strings.Repeat("a", 101)} {
		_, err := c.Identity(t.Context(), id)
		assert.Error(t, err, id)
	}
	assert.Equal(t, 0, f.gips.Requests())
}

func TestOpenProofStreamsTheArchive(t *testing.T) {
	f := newFakes(t)
	c := f.client(t)
	id := f.gips.AddIdentity("VERIFIED", "LOA2")

	proof, err := c.OpenProof(t.Context(), f.gipsSrv.URL+"/gips/v1/identities/"+id+"/proof")
	require.NoError(t, err)
	assert.Equal(t, "application/zip", proof.ContentType)
	body, err := io.ReadAll(proof.Body)
	require.NoError(t, err)
	require.NoError(t, proof.Body.Close())
	assert.True(t, strings.HasPrefix(string(body), "PK"), "a ZIP archive, as sent")
	assert.Equal(t, 1, f.gips.ProofRequests())
	assert.False(t, f.gips.HasIdentity(id), "IDEMIA discards the transaction once the proof is fetched")

	_, err = c.OpenProof(t.Context(), f.gipsSrv.URL+"/gips/v1/identities/"+id+"/proof")
	assert.ErrorIs(t, err, ipa.ErrUpstream)
}

func TestOpenProofRefusesOtherURLsWithoutARequest(t *testing.T) {
	f := newFakes(t)
	other := sandbox.NewGIPS(testAPIKey)
	otherSrv := httptest.NewTLSServer(other)
	t.Cleanup(otherSrv.Close)
	c := f.client(t)
	gipsHost := strings.TrimPrefix(f.gipsSrv.URL, "https://")
	otherPort := otherSrv.URL[strings.LastIndex(otherSrv.URL, ":")+1:]
	const path = "/gips/v1/identities/gips-1/proof"

	tests := map[string]string{
		"http scheme":             "http://" + gipsHost + path,
		"other host":              "https://evil.example" + path,
		"other server":            otherSrv.URL + path,
		"cloud metadata":          "https://169.254.169.254" + path,
		"metadata with our port":  "https://169.254.169.254:" + otherPort + path,
		"loopback on 443":         "https://127.0.0.1" + path,
		"localhost for 127.0.0.1": "https://localhost:" + strings.Split(gipsHost, ":")[1] + path,
		"userinfo":                "https://user:pw@" + gipsHost + path,
		"userinfo only a name":    "https://" + testAPIKey + "@" + gipsHost + path,
		"other port":              "https://127.0.0.1:" + otherPort + path,
		"empty port":              "https://" + strings.Split(gipsHost, ":")[0] + ":" + path,
		"path not under /gips/":   "https://" + gipsHost + "/admin",
		"path /gips without /":    "https://" + gipsHost + "/gipsx/v1",
		"dot segments":            "https://" + gipsHost + "/gips/../admin",
		"encoded dot segments":    "https://" + gipsHost + "/gips/%2e%2e/admin",
		"encoded slash":           "https://" + gipsHost + "/gips/..%2fadmin",
		"backslash":               "https://" + gipsHost + `/gips/a\..\admin`,
		"scheme relative":         "//" + gipsHost + path,
		"relative":                path,
		"opaque":                  "https:" + gipsHost + path,
		"file":                    "file:///etc/passwd",
		"empty":                   "",
		"not a URL":               "https://[::1" + path,
	}
	for name, proofURL := range tests {
		t.Run(name, func(t *testing.T) {
			proof, err := c.OpenProof(t.Context(), proofURL)
			assert.ErrorIs(t, err, ipa.ErrProofRefused)
			assert.Nil(t, proof)
		})
	}
	assert.Equal(t, 0, f.gips.Requests(), "the configured host saw a request")
	assert.Equal(t, 0, other.Requests(), "another host saw a request")
}

// recorder answers every request with 200 and records its URL, so allowed URLs need no network.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("PK")), Header: http.Header{}, Request: req}, nil
}

func TestIDVURLForms(t *testing.T) {
	const proof = "/gips/v1/identities/gips-1/proof"
	tests := []struct {
		idvURL   string
		allowed  []string
		refused  []string
		badIDVOK bool
	}{
		{idvURL: "proofing.idemia.io",
			allowed: []string{"https://proofing.idemia.io" + proof, "https://proofing.idemia.io:443" + proof,
				"https://PROOFING.idemia.io" + proof, "https://proofing.idemia.io" + proof + "?x=1"},
			refused: []string{"https://proofing.idemia.io:8443" + proof, "https://proofing.idemia.io." + proof,
				"https://proofing.idemia.io.evil.example" + proof, "https://sub.proofing.idemia.io" + proof}},
		{idvURL: "https://proofing.idemia.io/", allowed: []string{"https://proofing.idemia.io" + proof}},
		{idvURL: "HTTPS://Proofing.Idemia.IO", allowed: []string{"https://proofing.idemia.io" + proof}},
		{idvURL: "idv.example:8443", allowed: []string{"https://idv.example:8443" + proof},
			refused: []string{"https://idv.example" + proof}},
	}
	for _, tt := range tests {
		t.Run(tt.idvURL, func(t *testing.T) {
			rec := &recorder{}
			c, err := ipa.New(ipa.Config{CognitoURL: "https://cognito.example", ClientID: "id", ClientSecret: "s",
				IDVURL: tt.idvURL, GIPSAPIKey: "k", HTTPClient: &http.Client{Transport: rec}})
			require.NoError(t, err)
			for _, u := range tt.allowed {
				proof, err := c.OpenProof(t.Context(), u)
				if assert.NoError(t, err, u) {
					assert.NoError(t, proof.Body.Close())
				}
			}
			for _, u := range tt.refused {
				_, err := c.OpenProof(t.Context(), u)
				assert.ErrorIs(t, err, ipa.ErrProofRefused, u)
			}
			assert.Len(t, rec.urls, len(tt.allowed))
		})
	}
	for _, bad := range []string{"http://proofing.idemia.io", "https://proofing.idemia.io/gips", "https://u@proofing.idemia.io",
		"https://proofing.idemia.io?x=1", "ftp://proofing.idemia.io", "https://"} {
		_, err := ipa.New(ipa.Config{CognitoURL: "https://cognito.example", ClientID: "id", ClientSecret: "s",
			IDVURL: bad, GIPSAPIKey: "k"})
		assert.ErrorContains(t, err, "IDV_URL", bad)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	f := newFakes(t)
	other := sandbox.NewGIPS(testAPIKey)
	otherSrv := httptest.NewTLSServer(other)
	t.Cleanup(otherSrv.Close)
	id := other.AddIdentity("VERIFIED", "LOA2")
	f.gips.SetRedirect(otherSrv.URL + "/gips/v1/identities/" + id)
	c := f.client(t)

	_, err := c.Identity(t.Context(), "gips-1")
	require.ErrorIs(t, err, ipa.ErrUpstream)
	ue, _ := errors.AsType[*ipa.UpstreamError](err)
	assert.Equal(t, http.StatusFound, ue.StatusCode)

	_, err = c.OpenProof(t.Context(), f.gipsSrv.URL+"/gips/v1/identities/gips-1/proof")
	require.ErrorIs(t, err, ipa.ErrUpstream)

	assert.Equal(t, 2, f.gips.Requests())
	assert.Equal(t, 0, other.Requests(), "the redirect was followed")
}

// endless answers 200 with an endless body.
type endless struct{}

func (endless) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: io.NopCloser(zeros{}), Header: http.Header{"Content-Type": {"application/zip"}}, Request: req}, nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestOpenProofStopsAtMaxProofBytes(t *testing.T) {
	c, err := ipa.New(ipa.Config{CognitoURL: "https://cognito.example", ClientID: "id", ClientSecret: "s",
		IDVURL: "proofing.idemia.io", GIPSAPIKey: "k", HTTPClient: &http.Client{Transport: endless{}}})
	require.NoError(t, err)
	proof, err := c.OpenProof(t.Context(), "https://proofing.idemia.io/gips/v1/identities/gips-1/proof")
	require.NoError(t, err)
	defer proof.Body.Close()
	n, err := io.Copy(io.Discard, proof.Body)
	require.ErrorIs(t, err, ipa.ErrUpstream)
	assert.Contains(t, err.Error(), "proof larger than")
	assert.Equal(t, int64(ipa.MaxProofBytes), n)
}

func TestRetrievalOffWithoutIDVSettings(t *testing.T) {
	f := newFakes(t)
	f.cfg.IDVURL, f.cfg.GIPSAPIKey = "", ""
	c := f.client(t)
	assert.False(t, c.RetrievalEnabled())
	_, err := c.Identity(t.Context(), "gips-1")
	assert.ErrorIs(t, err, ipa.ErrDisabled)
	_, err = c.OpenProof(t.Context(), f.gipsSrv.URL+"/gips/v1/identities/gips-1/proof")
	assert.ErrorIs(t, err, ipa.ErrDisabled)
	assert.Nil(t, c.Retrieve(t.Context(), &ipa.Callback{Status: store.IPACompleted, IdentityID: "gips-1"}))
	assert.Equal(t, 0, f.gips.Requests())
}
