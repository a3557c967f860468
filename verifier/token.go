package verifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"golang.org/x/sync/singleflight"

	"github.com/entra-verifier/entra-verifier/config"
)

// ErrToken marks a failure to acquire a Request Service access token.
var ErrToken = errors.New("entra token")

// microsoftHosts are the identity platform hosts MSAL validates itself; any other host (a sovereign cloud
// MSAL does not know, a local fake) is used with instance discovery off, since discovery would ask
// login.microsoftonline.com to vouch for it.
var microsoftHosts = map[string]bool{
	"login.microsoftonline.com": true, "login.microsoft.com": true, "login.windows.net": true, "sts.windows.net": true,
	"login.microsoftonline.us": true, "login.chinacloudapi.cn": true, "login.partner.microsoftonline.cn": true,
}

// TokenSource hands out Request Service access tokens from one MSAL confidential client per process.
// Every call goes through AcquireTokenByCredential, which answers from MSAL's cache while the token is fresh;
// a singleflight makes a cold burst of callers share one token request.
type TokenSource struct {
	client  confidential.Client
	scopes  []string
	timeout time.Duration
	sf      singleflight.Group
}

// NewTokenSource builds the MSAL client for cfg; it makes no network call. hc carries timeouts and the
// trusted roots.
func NewTokenSource(cfg config.Entra, hc *http.Client) (*TokenSource, error) {
	cred, err := credential(cfg)
	if err != nil {
		return nil, err
	}
	authority := cfg.Authority()
	u, err := url.Parse(authority)
	if err != nil {
		return nil, fmt.Errorf("entra authority: %w", err)
	}
	client, err := confidential.New(authority, cfg.ClientID, cred,
		confidential.WithHTTPClient(hc),
		confidential.WithInstanceDiscovery(microsoftHosts[strings.ToLower(u.Hostname())]))
	if err != nil {
		return nil, fmt.Errorf("entra client: %w", err)
	}
	return &TokenSource{client: client, scopes: []string{config.Scope}, timeout: 30 * time.Second}, nil
}

// credential returns the MSAL credential of the one form cfg sets: a secret, a certificate, or an assertion
// file (checked readable now, read again at every token request).
func credential(cfg config.Entra) (confidential.Credential, error) {
	switch cfg.CredentialForm() {
	case config.CredentialSecret:
		return confidential.NewCredFromSecret(cfg.ClientSecret)
	case config.CredentialAssertionFile:
		a := AssertionFile{Path: cfg.ClientAssertionFile}
		if _, err := a.Read(context.Background()); err != nil {
			return confidential.Credential{}, err
		}
		return a.Credential(), nil
	case "":
		return confidential.Credential{}, errors.New("entra credential: none of ENTRA_CLIENT_SECRET, ENTRA_CLIENT_CERTIFICATE, ENTRA_CLIENT_ASSERTION_FILE is set")
	}
	pem := []byte(cfg.ClientCertificate)
	if !strings.Contains(cfg.ClientCertificate, "-----BEGIN") {
		b, err := os.ReadFile(cfg.ClientCertificate)
		if err != nil {
			return confidential.Credential{}, fmt.Errorf("ENTRA_CLIENT_CERTIFICATE: %w", err)
		}
		pem = b
	}
	certs, key, err := confidential.CertFromPEM(pem, "")
	if err != nil {
		return confidential.Credential{}, fmt.Errorf("ENTRA_CLIENT_CERTIFICATE: %w", err)
	}
	return confidential.NewCredFromCert(certs, key)
}

// Token returns a valid access token, from MSAL's cache when it holds one.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	ch := s.sf.DoChan("token", func() (any, error) {
		// The shared call must not die with the first caller's request.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		r, err := s.client.AcquireTokenByCredential(ctx, s.scopes)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrToken, err)
		}
		return r.AccessToken, nil
	})
	select {
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %w", ErrToken, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	}
}
