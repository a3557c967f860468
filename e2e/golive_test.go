package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// linkedDIDs returns the linked_dids of a did-configuration.json.
func linkedDIDs(t *testing.T, conf []byte) []any {
	var c map[string]any
	require.NoError(t, json.Unmarshal(conf, &c))
	return c["linked_dids"].([]any)
}

func writeConfiguration(t *testing.T, path string, entries ...any) {
	b, err := json.Marshal(map[string]any{"@context": "https://identity.foundation/.well-known/contexts/did-configuration-v0.0.jsonld", "linked_dids": entries})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// TestGoLiveCheck runs the built `verifier check` with each go-live setting and reads the lines it prints.
func TestGoLiveCheck(t *testing.T) {
	const quickSetup = "did:web:verifiedid.entra.microsoft.com:927eef35-435d-482f-be37-477c1a5164d4:4b1f5e6a-idemia"
	const assertion = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dmVyaWZpZXIifQ.c2VjcmV0LXNpZ25hdHVyZQ"
	tests := []struct {
		name     string
		mutate   func(t *testing.T, s *checkSetup)
		code     int
		want     []string // lines, by their start
		notInOut []string
	}{
		{"production defaults", nil, 0, []string{
			"IDEMIA stage           ok: production (did:web:{region}.did.idemia.io)",
			"accepted issuers       ok: did:web:us.did.idemia.io (from VERIFIER_ACCEPTED_REGIONS us on IDEMIA production)",
			"Entra credential       ok: secret (ENTRA_CLIENT_SECRET",
			"validateLinkedDomain   ok: on",
		}, nil},
		{"IDEMIA lower stage", func(_ *testing.T, s *checkSetup) {
			s.env["VERIFIER_IDEMIA_STAGE"], s.env["VERIFIER_ACCEPTED_REGIONS"] = "stg", "us,eu"
		}, 0, []string{
			"IDEMIA stage           ok: stg (did:web:{region}.did-stg.idemia.io)",
			"accepted issuers       ok: did:web:us.did-stg.idemia.io, did:web:eu.did-stg.idemia.io (from VERIFIER_ACCEPTED_REGIONS us,eu on IDEMIA stage stg (VERIFIER_IDEMIA_STAGE))",
		}, nil},
		{"explicit issuers", func(_ *testing.T, s *checkSetup) {
			s.env["VERIFIER_ACCEPTED_ISSUERS"], s.env["VERIFIER_IDEMIA_STAGE"] = quickSetup, "stg"
		}, 0, []string{
			"accepted issuers       ok: " + quickSetup + " (from VERIFIER_ACCEPTED_ISSUERS)",
			"IDEMIA stage           ok: stg (did:web:{region}.did-stg.idemia.io), not used for the issuers: VERIFIER_ACCEPTED_ISSUERS is set",
		}, nil},
		{"workload identity's assertion file", func(t *testing.T, s *checkSetup) {
			path := filepath.Join(s.dir, "azure-identity-token")
			require.NoError(t, os.WriteFile(path, []byte(assertion), 0o600))
			delete(s.env, "ENTRA_CLIENT_SECRET")
			s.env["AZURE_FEDERATED_TOKEN_FILE"] = path
		}, 0, []string{
			"Entra credential       ok: assertion file ",
			"Microsoft Entra token  ok: acquired",
		}, []string{assertion}},
		{"validateLinkedDomain off", func(_ *testing.T, s *checkSetup) { s.env["ENTRA_VALIDATE_LINKED_DOMAIN"] = "false" }, 0,
			[]string{"validateLinkedDomain   ok: off (ENTRA_VALIDATE_LINKED_DOMAIN=false"}, nil},
		{"mixed linkage file passes with warn lines", func(t *testing.T, s *checkSetup) {
			_, foreign, err := sandbox.DescriptorsForDID("did:web:other.example", "https://verifier.example.com")
			require.NoError(t, err)
			jsonLD := map[string]any{"@context": []any{"https://www.w3.org/2018/credentials/v1"}, "type": []any{"VerifiableCredential", "DomainLinkageCredential"},
				"proof": map[string]any{"type": "Ed25519Signature2018"}}
			entries := append([]any{jsonLD}, linkedDIDs(t, foreign)...)
			writeConfiguration(t, s.env["WELLKNOWN_DID_CONFIGURATION_JSON"], append(entries, linkedDIDs(t, s.conf)...)...)
		}, 0, []string{
			"domain linkage         warn: linked_dids[0] is not a JWT string (a JSON-LD credential?): not used",
			"domain linkage         warn: linked_dids[1] is for another DID, did:web:other.example: not checked",
			"domain linkage         ok: 1 linked DID credential(s) verify for did:web:verifier.example.com",
		}, nil},
		{"no valid linkage says why for each entry", func(t *testing.T, s *checkSetup) {
			writeConfiguration(t, s.env["WELLKNOWN_DID_CONFIGURATION_JSON"], map[string]any{"proof": "x"}, "abc.def")
		}, 1, []string{
			"domain linkage         FAIL: linked_dids[0] is not a JWT string (a JSON-LD credential?): not used, only the JWT form is checked (Entra generates it); " +
				"linked_dids[1]: not a compact JWT (header.payload.signature)",
		}, nil},
		{"a descriptor with a UTF-8 BOM", func(t *testing.T, s *checkSetup) {
			path := s.env["WELLKNOWN_DID_CONFIGURATION_JSON"]
			require.NoError(t, os.WriteFile(path, append([]byte{0xEF, 0xBB, 0xBF}, s.conf...), 0o600))
		}, 1, []string{"descriptors            FAIL: WELLKNOWN_DID_CONFIGURATION_JSON: \""}, nil},
		{"did:web path", func(t *testing.T, s *checkSetup) {
			const did = "did:web:verifier.example.com:verifier:eu"
			didJSON, conf, err := sandbox.DescriptorsForDID(did, "https://verifier.example.com")
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(s.env["WELLKNOWN_DID_JSON"], didJSON, 0o600))
			require.NoError(t, os.WriteFile(s.env["WELLKNOWN_DID_CONFIGURATION_JSON"], conf, 0o600))
			s.env["ENTRA_VERIFIER_DID"] = did
		}, 0, []string{
			"did.json               ok: did.json served for the verifier DID did:web:verifier.example.com:verifier:eu at /verifier/eu/did.json",
			"domain linkage         ok: 1 linked DID credential(s) verify for did:web:verifier.example.com:verifier:eu",
		}, nil},
		{"DID hosted by Microsoft", func(_ *testing.T, s *checkSetup) {
			s.env["ENTRA_VERIFIER_DID"] = "did:web:verifiedid.entra.microsoft.com:tenant:authority"
		}, 0, []string{"did.json               ok: hosted by Microsoft: no descriptors needed"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newCheckSetup(t)
			if tc.mutate != nil {
				tc.mutate(t, s)
			}
			code, out := s.run(t)
			assert.Equal(t, tc.code, code, out)
			for _, want := range tc.want {
				assert.True(t, hasLinePrefix(out, want), "want a line starting %q in:\n%s", want, out)
			}
			for _, secret := range tc.notInOut {
				assert.NotContains(t, out, secret)
			}
			if tc.name == "a descriptor with a UTF-8 BOM" {
				assert.Contains(t, out, "starts with a UTF-8 byte order mark (BOM, bytes EF BB BF)")
			}
			if strings.HasPrefix(tc.name, "workload identity") {
				assert.Contains(t, out, "azure-identity-token (federated client assertion, read at every token request)")
			}
		})
	}
}
