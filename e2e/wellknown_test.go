package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entra-verifier/entra-verifier/app"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

func TestDescriptorsServedByteForByte(t *testing.T) {
	h := New(t, nil)
	_, didJSON, didConfig, err := sandbox.Descriptors("https://verifier.example.com")
	require.NoError(t, err)
	didJSON = append(didJSON, "\n\n"...) // served as is, whitespace included
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "did.json"), didJSON, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "did-configuration.json"), didConfig, 0o600))
	d, err := wellknown.Load(filepath.Join(dir, "did.json"), filepath.Join(dir, "did-configuration.json"))
	require.NoError(t, err)
	svc, err := app.New(t.Context(), h.Cfg, d, h.Outbound(), nil)
	require.NoError(t, err)
	defer svc.Close()
	srv := httptest.NewServer(svc.Server.Handler())
	defer srv.Close()

	for path, want := range map[string][]byte{"/.well-known/did.json": didJSON, "/.well-known/did-configuration.json": didConfig} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		var got bytes.Buffer
		_, _ = got.ReadFrom(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, want, got.Bytes(), path)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
		assert.Contains(t, resp.Header.Get("Cache-Control"), "max-age=")
	}
	// Without descriptors configured, the routes do not exist.
	resp, err := http.Get(h.URL + "/.well-known/did.json")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// checkSetup is the environment of `verifier check` against TLS fakes, with valid descriptors.
type checkSetup struct {
	env  map[string]string
	h    *Harness
	dir  string
	did  string
	conf []byte
}

func newCheckSetup(t *testing.T) *checkSetup {
	h := New(t, nil)
	const public = "https://verifier.example.com"
	did, didJSON, didConfig, err := sandbox.Descriptors(public)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "did.json"), didJSON, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "did-configuration.json"), didConfig, 0o600))
	ca := h.FakesPEM()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca, 0o600))
	env := map[string]string{}
	for k, v := range h.Vars {
		env[k] = v
	}
	env["VERIFIER_PUBLIC_URL"] = public
	env["ENTRA_VERIFIER_DID"] = did
	env["WELLKNOWN_DID_JSON"] = filepath.Join(dir, "did.json")
	env["WELLKNOWN_DID_CONFIGURATION_JSON"] = filepath.Join(dir, "did-configuration.json")
	env["SSL_CERT_FILE"] = caFile
	return &checkSetup{env: env, h: h, dir: dir, did: did, conf: didConfig}
}

func (s *checkSetup) run(t *testing.T) (int, string) {
	cmd := exec.Command(binary(t), "check")
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

func TestCheckCommand(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(t *testing.T, s *checkSetup)
		wantFail string // the start of the failing line; "" = all pass
	}{
		{"good setup", nil, ""},
		{"invalid configuration", func(t *testing.T, s *checkSetup) { delete(s.env, "ENTRA_CLIENT_ID") }, "configuration          FAIL: ENTRA_CLIENT_ID: missing"},
		{"did.json for another host", func(t *testing.T, s *checkSetup) { s.env["VERIFIER_PUBLIC_URL"] = "https://other.example.com" }, "did.json               FAIL:"},
		{"ENTRA_VERIFIER_DID is not did.json's", func(t *testing.T, s *checkSetup) { s.env["ENTRA_VERIFIER_DID"] = "did:web:other.example.com" }, "did.json               FAIL:"},
		{"linkage signature broken", func(t *testing.T, s *checkSetup) {
			broken := bytes.Clone(s.conf)
			i := bytes.LastIndexByte(broken, '.')
			broken[i+3] ^= 1 // flip a bit of the signature
			require.NoError(t, os.WriteFile(s.env["WELLKNOWN_DID_CONFIGURATION_JSON"], broken, 0o600))
		}, "domain linkage         FAIL: linked_dids[0]"},
		{"did-configuration.json missing", func(t *testing.T, s *checkSetup) { delete(s.env, "WELLKNOWN_DID_CONFIGURATION_JSON") }, "domain linkage         FAIL:"},
		{"unreadable did.json", func(t *testing.T, s *checkSetup) { s.env["WELLKNOWN_DID_JSON"] = filepath.Join(s.dir, "nope.json") }, "descriptors            FAIL: WELLKNOWN_DID_JSON"},
		{"Microsoft token without roles", func(t *testing.T, s *checkSetup) { s.h.IdP.SetRoles("User.Read") }, "Microsoft Entra token  FAIL: the token has no VerifiableCredential.Create.All"},
		{"Microsoft secret wrong", func(t *testing.T, s *checkSetup) { s.env["ENTRA_CLIENT_SECRET"] = "wrong" }, "Microsoft Entra token  FAIL: Microsoft refused the token request ("},
		{"IDEMIA secret wrong", func(t *testing.T, s *checkSetup) { s.env["IPA_CLIENT_SECRET"] = "wrong" }, "IDEMIA token           FAIL: IDEMIA refused the token request ("},
		{"DID hosted by Microsoft needs no descriptors", func(t *testing.T, s *checkSetup) {
			s.env["ENTRA_VERIFIER_DID"] = "did:web:verifiedid.entra.microsoft.com:tenant:authority"
			delete(s.env, "WELLKNOWN_DID_JSON")
			delete(s.env, "WELLKNOWN_DID_CONFIGURATION_JSON")
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newCheckSetup(t)
			if tc.mutate != nil {
				tc.mutate(t, s)
			}
			code, out := s.run(t)
			if tc.wantFail == "" {
				assert.Equal(t, 0, code, out)
				assert.NotContains(t, out, "FAIL")
				assert.Contains(t, out, "Microsoft Entra token  ok:")
				assert.Contains(t, out, "IDEMIA token           ok:")
				return
			}
			assert.Equal(t, 1, code, out)
			assert.True(t, hasLinePrefix(out, tc.wantFail), "want a line starting %q in:\n%s", tc.wantFail, out)
			switch tc.name { // summarised with the fix; Microsoft's raw answer only under -v
			case "Microsoft secret wrong":
				assert.Contains(t, out, "HTTP 401, invalid_client AADSTS7000215): ENTRA_CLIENT_SECRET is not the app registration's secret")
				assert.NotContains(t, out, "Invalid client secret provided")
			case "IDEMIA secret wrong":
				assert.Contains(t, out, "HTTP 401, invalid_client): IPA_CLIENT_ID or IPA_CLIENT_SECRET is wrong")
			}
		})
	}
}

func hasLinePrefix(out, prefix string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
