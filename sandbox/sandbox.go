package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options configure a Sandbox.
type Options struct {
	// PublicURL is the verifier's own public URL (its callback and goto URLs derive from it).
	PublicURL string
	// IssuerDID is the IDEMIA DID the simulated wallet's credentials come from: the first accepted issuer, so
	// that it follows VERIFIER_IDEMIA_STAGE and VERIFIER_ACCEPTED_ISSUERS.
	IssuerDID string
}

// Sandbox runs the simulators of Microsoft's identity platform and Request Service and of IDEMIA's
// Cognito, IPA and ID&V services, each on its own loopback HTTPS port with a throw-away CA, plus the
// simulated phone pages (Phone). Settings gives the configuration that points a verifier at them.
type Sandbox struct {
	Identity *IdentityPlatform
	Requests *RequestService
	Cognito  *Cognito
	IPA      *IPA
	GIPS     *GIPS

	opts     Options
	ca       *authority
	settings map[string]string
	dir      string
	servers  []*http.Server

	mu        sync.Mutex
	retrieved map[string]bool // presentation requests whose QR the simulated phone has scanned
}

// Start starts every simulator. Close stops them.
func Start(opts Options) (*Sandbox, error) {
	ca, err := newAuthority()
	if err != nil {
		return nil, err
	}
	entraSecret, ipaSecret, gipsKey := rand.Text(), rand.Text(), rand.Text()
	s := &Sandbox{opts: opts, ca: ca, retrieved: map[string]bool{}}
	s.Identity = &IdentityPlatform{ClientID: "sandbox-verifier-app", ClientSecret: entraSecret}
	s.Requests = &RequestService{Identity: s.Identity}
	s.Cognito = NewCognito("sandbox-ipa-client", ipaSecret)
	s.IPA = NewIPA(s.Cognito, "sandbox-ipa-application")
	s.GIPS = NewGIPS(gipsKey)

	urls := map[string]string{}
	for name, h := range map[string]http.Handler{"identity": s.Identity, "requests": s.Requests, "cognito": s.Cognito, "ipa": s.IPA, "gips": s.GIPS} {
		u, err := s.serve(h)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sandbox %s simulator: %w", name, err)
		}
		urls[name] = u
	}
	s.IPA.SetGIPS(s.GIPS, urls["gips"])

	did, didJSON, didConfig, err := Descriptors(opts.PublicURL)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sandbox descriptors: %w", err)
	}
	if s.dir, err = os.MkdirTemp("", "entra-verifier-sandbox-"); err != nil {
		s.Close()
		return nil, err
	}
	didPath, configPath := filepath.Join(s.dir, "did.json"), filepath.Join(s.dir, "did-configuration.json")
	if err := errors.Join(os.WriteFile(didPath, didJSON, 0o600), os.WriteFile(configPath, didConfig, 0o600)); err != nil {
		s.Close()
		return nil, err
	}
	s.settings = map[string]string{
		"ENTRA_TENANT_ID":                  "00000000-0000-4000-8000-5a4db0c00000",
		"ENTRA_CLIENT_ID":                  s.Identity.ClientID,
		"ENTRA_CLIENT_SECRET":              entraSecret,
		"ENTRA_AUTHORITY_HOST":             urls["identity"],
		"ENTRA_REQUEST_SERVICE_URL":        urls["requests"] + "/v1.0",
		"ENTRA_VERIFIER_DID":               did,
		"IPA_COGNITO_URL":                  urls["cognito"],
		"IPA_CLIENT_ID":                    "sandbox-ipa-client",
		"IPA_CLIENT_SECRET":                ipaSecret,
		"IPA_CREATE_SESSION_URL":           urls["ipa"] + "/api/v1/sessions",
		"IPA_START_URL":                    opts.PublicURL + "/sandbox/ipa/start",
		"IPA_APPLICATION_ID":               "sandbox-ipa-application",
		"IDV_URL":                          urls["gips"],
		"GIPS_RS_API_KEY":                  gipsKey,
		"WELLKNOWN_DID_JSON":               didPath,
		"WELLKNOWN_DID_CONFIGURATION_JSON": configPath,
	}
	return s, nil
}

// serve runs h on a new loopback HTTPS port and returns its base URL.
func (s *Sandbox) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{s.ca.chain}, MinVersion: tls.VersionTLS12}}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return "https://" + ln.Addr().String(), nil
}

// IssuerDID is the DID the simulated wallet's credentials come from (Options.IssuerDID).
func (s *Sandbox) IssuerDID() string { return s.opts.IssuerDID }

// Settings returns the configuration (SPEC section 5 names) that points a verifier at the simulators.
func (s *Sandbox) Settings() map[string]string { return s.settings }

// RootCAs returns the system roots plus the sandbox CA, for the verifier's outbound client.
func (s *Sandbox) RootCAs() *x509.CertPool {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pool.AppendCertsFromPEM(s.ca.pem)
	return pool
}

// CACertificate returns the sandbox CA in PEM, for tools that call the simulators directly.
func (s *Sandbox) CACertificate() []byte { return s.ca.pem }

// Close stops the simulators and removes the generated descriptors.
func (s *Sandbox) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
