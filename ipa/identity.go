package ipa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/entra-verifier/entra-verifier/store"
)

// Bounds on what identity retrieval reads.
const (
	maxIdentityBytes = 1 << 20
	// MaxProofBytes bounds a proof archive streamed by OpenProof.
	MaxProofBytes = 64 << 20
)

// errIdentityID is returned for an identityId that cannot be an ID&V identity; no request is made.
var errIdentityID = errors.New("ipa: identityId has an unexpected form")

var (
	identityIDPattern = regexp.MustCompile(`^gips-[A-Za-z0-9-]{1,100}$`)
	// summaryValuePattern admits status and level-of-assurance codes such as VERIFIED or LOA2.
	summaryValuePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,64}$`)
)

// normaliseIDVHost turns IDV_URL ("host", "host:port" or "https://host[:port][/]") into host[:port], lower case,
// without the default port.
func normaliseIDVHost(raw string) (string, error) {
	const bad = "IDV_URL must be a host name such as proofing.idemia.io, or https:// and a host"
	s := raw
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(u.Path != "" && u.Path != "/") || u.Hostname() == "" {
		return "", errors.New(bad)
	}
	return canonicalHost(u), nil
}

// canonicalHost is u's host in lower case with port 443 left out.
func canonicalHost(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" || port == "443" {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, port)
}

// RetrievalEnabled reports whether IDV_URL and GIPS_RS_API_KEY are set.
func (c *Client) RetrievalEnabled() bool { return c.idvHost != "" }

// Identity fetches the identity identityID from the ID&V platform and returns only its level of assurance
// and status; its attributes are neither kept nor logged. Failed calls wrap ErrUpstream.
func (c *Client) Identity(ctx context.Context, identityID string) (store.IdentitySummary, error) {
	const op = "identity"
	data, err := c.IdentityPayload(ctx, identityID)
	if err != nil {
		return store.IdentitySummary{}, err
	}
	var answer struct {
		LevelOfAssurance string `json:"levelOfAssurance"`
		Status           string `json:"status"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return store.IdentitySummary{}, &UpstreamError{Op: op, StatusCode: http.StatusOK, Err: errors.New("answer is not an identity")}
	}
	if !summaryValuePattern.MatchString(answer.LevelOfAssurance) || !summaryValuePattern.MatchString(answer.Status) {
		return store.IdentitySummary{}, &UpstreamError{Op: op, StatusCode: http.StatusOK, Err: errors.New("unexpected status or levelOfAssurance")}
	}
	return store.IdentitySummary{LevelOfAssurance: answer.LevelOfAssurance, Status: answer.Status}, nil
}

// Proof is a proof archive as IDEMIA sends it, unread: Body streams it (at most MaxProofBytes) and must be
// closed; ContentType is IDEMIA's.
type Proof struct {
	Body        io.ReadCloser
	ContentType string
}

// OpenProof requests the proof archive at proofURL and returns it unread, for a caller that streams it to the
// relying party's backend without storing or buffering it whole. Nothing calls it on its own: IDEMIA may close
// the transaction once its proof is fetched, and the archive is the relying party's record, not ours.
// proofURL is followed only when it is https, has no credentials, is on the configured ID&V host and port
// (443 unless IDV_URL names another), and its path is under /gips/; anything else returns an error wrapping
// ErrProofRefused without any request. Redirects are not followed.
func (c *Client) OpenProof(ctx context.Context, proofURL string) (*Proof, error) {
	if !c.RetrievalEnabled() {
		return nil, ErrDisabled
	}
	u, err := c.checkProofURL(proofURL)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, "proof", u)
	if err != nil {
		return nil, err
	}
	return &Proof{Body: &boundedBody{rc: resp.Body, left: MaxProofBytes}, ContentType: resp.Header.Get("Content-Type")}, nil
}

// boundedBody reads at most left bytes of rc and fails beyond them, so a stream never grows without bound.
type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, &UpstreamError{Op: "proof", StatusCode: http.StatusOK, Err: fmt.Errorf("proof larger than %d bytes", MaxProofBytes)}
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n - 1, &UpstreamError{Op: "proof", StatusCode: http.StatusOK, Err: fmt.Errorf("proof larger than %d bytes", MaxProofBytes)}
	}
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }

// checkProofURL returns proofURL parsed when it may be fetched, else an error wrapping ErrProofRefused.
func (c *Client) checkProofURL(proofURL string) (*url.URL, error) {
	u, err := url.Parse(proofURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: not a URL", ErrProofRefused)
	case u.Scheme != "https":
		return nil, fmt.Errorf("%w: scheme is not https", ErrProofRefused)
	case u.User != nil:
		return nil, fmt.Errorf("%w: URL carries credentials", ErrProofRefused)
	case u.Opaque != "" || u.Host == "" || canonicalHost(u) != c.idvHost || strings.HasSuffix(u.Host, ":"):
		return nil, fmt.Errorf("%w: host is not the configured ID&V host", ErrProofRefused)
	case !strings.HasPrefix(u.Path, "/gips/") || !cleanPath(u):
		return nil, fmt.Errorf("%w: path is not under /gips/", ErrProofRefused)
	}
	return u, nil
}

// cleanPath reports whether u's path has no dot segments, backslashes or encoded separators.
func cleanPath(u *url.URL) bool {
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	raw := strings.ToLower(u.EscapedPath())
	return !strings.Contains(u.Path, `\`) && !strings.Contains(raw, "%2f") && !strings.Contains(raw, "%5c") &&
		!strings.Contains(raw, "%2e")
}

// IdentityPayload fetches the identity identityID from the ID&V platform and returns its payload byte for
// byte, for the relying party's backend; the caller neither keeps nor logs it. Failed calls wrap ErrUpstream.
func (c *Client) IdentityPayload(ctx context.Context, identityID string) ([]byte, error) {
	if !c.RetrievalEnabled() {
		return nil, ErrDisabled
	}
	if !identityIDPattern.MatchString(identityID) {
		return nil, errIdentityID
	}
	u := &url.URL{Scheme: "https", Host: c.idvHost, Path: "/gips/v1/identities/" + identityID,
		RawPath: "/gips/v1/identities/" + url.PathEscape(identityID)}
	return c.get(ctx, "identity", u, maxIdentityBytes) // op as Identity's
}
