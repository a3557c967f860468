package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"golang.org/x/oauth2"

	"github.com/entra-verifier/entra-verifier/ipa"
)

// upstreamFailure is a failed call to Microsoft or IDEMIA, summarised for a person: which host, what HTTP
// status, the service's own error code, and what to do. The raw error (MSAL's text, with Microsoft's body)
// is printed only under `verifier check -v`.
type upstreamFailure struct {
	host   string // host:port called, "" when unknown
	status int    // HTTP status, 0 when no answer came
	code   string // Microsoft's AADSTS code or the OAuth error ("invalid_client"), "" when none
	what   string // plain words: what went wrong
	fix    string // what to do
}

func (f upstreamFailure) Error() string {
	var b strings.Builder
	b.WriteString(f.what)
	var facts []string
	if f.host != "" {
		facts = append(facts, f.host)
	}
	if f.status != 0 {
		facts = append(facts, fmt.Sprintf("HTTP %d", f.status))
	}
	if f.code != "" {
		facts = append(facts, f.code)
	}
	if len(facts) > 0 {
		b.WriteString(" (" + strings.Join(facts, ", ") + ")")
	}
	if f.fix != "" {
		b.WriteString(": " + f.fix)
	}
	return b.String()
}

// aadstsCode finds Microsoft's error code (AADSTS followed by digits) in an error description.
var aadstsCode = regexp.MustCompile(`AADSTS\d+`)

// microsoftFixes are the fixes of the token errors an operator meets on day one, by AADSTS code.
var microsoftFixes = map[string]string{
	"AADSTS7000215": "ENTRA_CLIENT_SECRET is not the app registration's secret: copy the secret's Value (not its Secret ID) from Certificates & secrets",
	"AADSTS7000222": "the client secret has expired: create a new one under Certificates & secrets and set ENTRA_CLIENT_SECRET",
	"AADSTS700016":  "no application with ENTRA_CLIENT_ID in tenant ENTRA_TENANT_ID: copy both from the app registration's Overview",
	"AADSTS90002":   "ENTRA_TENANT_ID names no tenant: copy the Directory (tenant) ID from the app registration's Overview",
	"AADSTS900023":  "ENTRA_TENANT_ID is not a tenant ID: copy the Directory (tenant) ID from the app registration's Overview",
	"AADSTS700027":  "the certificate or client assertion is not one the app registration accepts: upload the certificate's public part, or check the federated credential",
	"AADSTS700024":  "the client assertion has expired: the workload identity token file is stale (is the pod's projected token mounted?)",
	"AADSTS70021":   "no federated credential of the app registration matches the assertion: check its issuer and subject (the pod's service account)",
	"AADSTS500011":  "the Verifiable Credentials Service Request API is not in the tenant: finish Verified ID setup (README, \"Set up Microsoft Entra Verified ID\")",
	"AADSTS70011":   "the scope was refused: the app registration needs the Verifiable Credentials Service Request permission",
}

// describeMicrosoft summarises a failed Microsoft token request.
func describeMicrosoft(err error) error {
	f := describeTransport(err, "Microsoft", "ENTRA_AUTHORITY_HOST")
	if f.what != "" {
		return f
	}
	var call msalerrors.CallErr
	if !errors.As(err, &call) || call.Resp == nil {
		return err // not a call: a credential that does not load, a role missing, …: already plain words
	}
	f.status, f.what = call.Resp.StatusCode, "Microsoft refused the token request"
	if call.Req != nil && call.Req.URL != nil {
		f.host = call.Req.URL.Host
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if call.Resp.Body != nil {
		raw, _ := io.ReadAll(io.LimitReader(call.Resp.Body, 64<<10))
		_ = json.Unmarshal(raw, &body)
	}
	f.code = body.Error
	if c := aadstsCode.FindString(body.Description); c != "" {
		f.code = strings.TrimSpace(body.Error + " " + c)
		f.fix = microsoftFixes[c]
	}
	if f.fix == "" {
		f.fix = "see the README's troubleshooting table; `verifier check -v` shows Microsoft's answer"
	}
	return f
}

// describeIDEMIA summarises a failed IDEMIA Cognito token request.
func describeIDEMIA(err error) error {
	f := describeTransport(err, "IDEMIA", "IPA_COGNITO_URL")
	if f.what != "" {
		return f
	}
	var ue *ipa.UpstreamError
	if !errors.As(err, &ue) {
		return err
	}
	f.what, f.status = "IDEMIA refused the token request", ue.StatusCode
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		f.code = re.ErrorCode
		if re.Response != nil && re.Response.Request != nil {
			f.host = re.Response.Request.URL.Host
		}
	}
	switch {
	case f.code == "invalid_client":
		f.fix = "IPA_CLIENT_ID or IPA_CLIENT_SECRET is wrong: copy both from the IPA application's credentials in the Experience Portal"
	case f.status == 404:
		f.fix = "IPA_COGNITO_URL is not a Cognito domain: copy the token endpoint base, without /oauth2/token"
	default:
		f.fix = "see the README's troubleshooting table; `verifier check -v` shows IDEMIA's answer"
	}
	return f
}

// describeTransport summarises a call to service that got no HTTP answer (f.what is "" when err is not one);
// setting names the variable holding the URL called.
func describeTransport(err error, service, setting string) upstreamFailure {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return upstreamFailure{}
	}
	f := upstreamFailure{what: "the connection failed", fix: "check " + setting + ", this machine's DNS, proxy (HTTPS_PROXY) and firewall"}
	if u, perr := url.Parse(ue.URL); perr == nil {
		f.host = u.Host
	}
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &dns):
		f.what, f.fix = "the host name does not resolve", "check "+setting+" and this machine's DNS"
	case errors.As(err, &unknownCA) || errors.As(err, &hostname):
		f.what, f.fix = "the server's certificate is not trusted", "a TLS-inspecting proxy? add its CA with SSL_CERT_FILE"
	case ue.Timeout():
		f.what = "no answer in time"
	case strings.Contains(err.Error(), "connection refused"):
		f.what = "connection refused"
	}
	f.what = "cannot reach " + service + ": " + f.what
	return f
}
