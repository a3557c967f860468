package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

// upstream is the sandbox's simulators of Microsoft's identity platform and Request Service, run in this
// process on loopback HTTPS: the verifier children call them, and the tool reads from the Request Service
// fake each created request's callback state and api-key header, as Microsoft would echo them. That is
// why the fakes live here and not in the child (`verifier --sandbox`): no test switch in production code.
type upstream struct {
	sb     *sandbox.Sandbox
	caFile string
	client *http.Client // trusts the sandbox CA
	// ownTokens counts the tool's own token requests, left out of the verifier's count.
	ownTokens int
}

func startUpstream() (*upstream, error) {
	// The descriptors' origin is only checked for consistency (a warning); any loopback URL does.
	sb, err := sandbox.Start(sandbox.Options{PublicURL: "http://127.0.0.1", IssuerDID: config.Regions["us"]})
	if err != nil {
		return nil, err
	}
	u := &upstream{sb: sb}
	u.caFile = filepath.Join(os.TempDir(), fmt.Sprintf("loadtest-ca-%d.pem", os.Getpid()))
	if err := os.WriteFile(u.caFile, sb.CACertificate(), 0o600); err != nil {
		sb.Close()
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: sb.RootCAs()}, MaxIdleConnsPerHost: 64}
	u.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return u, nil
}

func (u *upstream) close() {
	u.sb.Close()
	_ = os.Remove(u.caFile)
}

// verifierEnv is the environment pointing a verifier at the fakes: the Entra settings the sandbox hands
// out (not --sandbox: the child runs its production wiring), its CA through SSL_CERT_FILE, rate limits
// lifted, and the given store settings.
func (u *upstream) verifierEnv(store map[string]string) map[string]string {
	s := u.sb.Settings()
	env := map[string]string{
		"SSL_CERT_FILE":              u.caFile,
		"ENTRA_PURPOSE":              "Load test",
		"VERIFIER_RATE_LIMIT_PER_IP": "1000000/s",
		"VERIFIER_RATE_LIMIT_GLOBAL": "1000000/s",
	}
	for _, k := range []string{"ENTRA_TENANT_ID", "ENTRA_CLIENT_ID", "ENTRA_CLIENT_SECRET", "ENTRA_AUTHORITY_HOST",
		"ENTRA_REQUEST_SERVICE_URL", "ENTRA_VERIFIER_DID", "WELLKNOWN_DID_JSON", "WELLKNOWN_DID_CONFIGURATION_JSON"} {
		env[k] = s[k]
	}
	for k, v := range store {
		env[k] = v
	}
	return env
}

// created is what the tool knows of one presentation request the verifier created.
type created struct {
	id, cookie         string
	callbackURL, state string
	apiKey             string
}

// lookup completes c from what the Request Service fake received for it.
func (u *upstream) lookup(c *created) error {
	rec, ok := u.sb.Requests.Request(c.id)
	if !ok {
		return fmt.Errorf("request %s unknown to the Request Service fake", c.id)
	}
	c.callbackURL, c.state, c.apiKey = rec.Request.Callback.URL, rec.Request.Callback.State, rec.Request.Callback.Headers["api-key"]
	return nil
}

// token gets an access token from the identity platform fake, as MSAL does (client credentials).
func (u *upstream) token(ctx context.Context) (string, error) {
	u.ownTokens++
	s := u.sb.Settings()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s["ENTRA_CLIENT_ID"]},
		"client_secret": {s["ENTRA_CLIENT_SECRET"]}, "scope": {sandbox.RequestServiceScope}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s["ENTRA_AUTHORITY_HOST"]+"/"+s["ENTRA_TENANT_ID"]+"/oauth2/v2.0/token",
		bytes.NewBufferString(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := u.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("token from the identity fake: status %d: %v", resp.StatusCode, err)
	}
	return t.AccessToken, nil
}

// createDirect posts body straight to the Request Service fake: the floor of our create route.
func (u *upstream) createDirect(ctx context.Context, token string, body []byte) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		u.sb.Settings()["ENTRA_REQUEST_SERVICE_URL"]+"/verifiableCredentials/createPresentationRequest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var c struct {
		RequestID string `json:"requestId"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("direct create: status %d: %v", resp.StatusCode, err)
	}
	return nil
}
