package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/stretchr/testify/assert"
	"golang.org/x/oauth2"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// msalRefusal is the error MSAL returns when the token endpoint answers status with body.
func msalRefusal(status int, body string) error {
	req, _ := http.NewRequest(http.MethodPost, "https://login.microsoftonline.com/tenant/oauth2/v2.0/token", nil)
	resp := &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body))}
	return fmt.Errorf("%w: %w", verifier.ErrToken, msalerrors.CallErr{Req: req, Resp: resp,
		Err: fmt.Errorf("http call(%s)(POST) error: reply status code was %d:\n%s", req.URL, status, body)})
}

// TestDescribeUpstream: Microsoft's and IDEMIA's refusals become host, status, error code and the fix.
func TestDescribeUpstream(t *testing.T) {
	idemia := &ipa.UpstreamError{Op: "token", StatusCode: 401, Err: &oauth2.RetrieveError{ErrorCode: "invalid_client",
		Response: &http.Response{StatusCode: 401, Request: &http.Request{URL: &url.URL{Scheme: "https", Host: "idemia.auth.example.com"}}}}}
	tests := []struct {
		name     string
		describe func(error) error
		err      error
		want     string
	}{
		{"wrong secret", describeMicrosoft, msalRefusal(401, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: x"}`),
			"Microsoft refused the token request (login.microsoftonline.com, HTTP 401, invalid_client AADSTS7000215): ENTRA_CLIENT_SECRET is not the app registration's secret: copy the secret's Value (not its Secret ID) from Certificates & secrets"},
		{"unknown tenant", describeMicrosoft, msalRefusal(400, `{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}`),
			"Microsoft refused the token request (login.microsoftonline.com, HTTP 400, invalid_request AADSTS90002): ENTRA_TENANT_ID names no tenant: copy the Directory (tenant) ID from the app registration's Overview"},
		{"unknown code", describeMicrosoft, msalRefusal(503, `<html>busy</html>`),
			"Microsoft refused the token request (login.microsoftonline.com, HTTP 503): see the README's troubleshooting table; `verifier check -v` shows Microsoft's answer"},
		{"not a call stays as it is", describeMicrosoft, errors.New("the token has no VerifiableCredential.Create.All role"), "the token has no VerifiableCredential.Create.All role"},
		{"IDEMIA wrong secret", describeIDEMIA, idemia,
			"IDEMIA refused the token request (idemia.auth.example.com, HTTP 401, invalid_client): IPA_CLIENT_ID or IPA_CLIENT_SECRET is wrong: copy both from the IPA application's credentials in the Experience Portal"},
		{"IDEMIA name does not resolve", describeIDEMIA, &ipa.UpstreamError{Op: "token", Err: &url.Error{Op: "Post", URL: "https://nowhere.invalid/oauth2/token",
			Err: fmt.Errorf("dial tcp: %w", &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true})}},
			"cannot reach IDEMIA: the host name does not resolve (nowhere.invalid): check IPA_COGNITO_URL and this machine's DNS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.describe(tc.err).Error())
		})
	}
}
