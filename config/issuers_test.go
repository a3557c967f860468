package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
)

func TestAcceptedIssuers(t *testing.T) {
	const quickSetup = "did:web:verifiedid.entra.microsoft.com:927eef35-435d-482f-be37-477c1a5164d4:7A1b2C3d-idemia"
	tests := []struct {
		name       string
		env        map[string]string
		want       []string
		wantSource string
	}{
		{"production region", valid(), []string{"did:web:us.did.idemia.io"}, "VERIFIER_ACCEPTED_REGIONS us on IDEMIA production"},
		{"stage, every accepted region", with(valid(), "VERIFIER_IDEMIA_STAGE", "STG", "VERIFIER_ACCEPTED_REGIONS", "eu,us"),
			[]string{"did:web:eu.did-stg.idemia.io", "did:web:us.did-stg.idemia.io"},
			"VERIFIER_ACCEPTED_REGIONS eu,us on IDEMIA stage stg (VERIFIER_IDEMIA_STAGE)"},
		{"explicit list replaces regions and stage, case kept", with(valid(), "VERIFIER_IDEMIA_STAGE", "stg",
			"VERIFIER_ACCEPTED_ISSUERS", " "+quickSetup+" , did:web:eu.did.idemia.io,"),
			[]string{quickSetup, "did:web:eu.did.idemia.io"}, "VERIFIER_ACCEPTED_ISSUERS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Load(env(tc.env))
			require.NoError(t, c.Validate())
			assert.Equal(t, tc.want, c.AcceptedIssuers())
			assert.Equal(t, tc.wantSource, c.IssuersSource())
		})
	}
}

func TestRegionDID(t *testing.T) {
	tests := []struct {
		region, stage, want string
		ok                  bool
	}{
		{"us", "", "did:web:us.did.idemia.io", true},
		{"eu", "", "did:web:eu.did.idemia.io", true},
		{"eu", "int2", "did:web:eu.did-int2.idemia.io", true},
		{"mars", "stg", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.region+"/"+tc.stage, func(t *testing.T) {
			did, ok := config.RegionDID(tc.region, tc.stage)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, did)
		})
	}
}

func TestEntraCredential(t *testing.T) {
	noSecret := with(valid(), "ENTRA_CLIENT_SECRET", "")
	tests := []struct {
		name     string
		env      map[string]string
		form     string
		file     string
		validate bool
	}{
		{"secret", valid(), config.CredentialSecret, "", true},
		{"certificate", with(noSecret, "ENTRA_CLIENT_CERTIFICATE", "cert.pem"), config.CredentialCertificate, "", true},
		{"assertion file", with(noSecret, "ENTRA_CLIENT_ASSERTION_FILE", "/var/run/token"), config.CredentialAssertionFile, "/var/run/token", true},
		{"workload identity's file by default", with(noSecret, "AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"),
			config.CredentialAssertionFile, "/var/run/secrets/azure/tokens/azure-identity-token", true},
		{"the explicit file wins over workload identity's", with(noSecret, "ENTRA_CLIENT_ASSERTION_FILE", "/mine", "AZURE_FEDERATED_TOKEN_FILE", "/azure"),
			config.CredentialAssertionFile, "/mine", true},
		{"workload identity's file is no default beside a secret", with(valid(), "AZURE_FEDERATED_TOKEN_FILE", "/azure"), config.CredentialSecret, "", true},
		{"validateLinkedDomain off", with(valid(), "ENTRA_VALIDATE_LINKED_DOMAIN", "false"), config.CredentialSecret, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Load(env(tc.env))
			require.NoError(t, c.Validate())
			assert.Equal(t, tc.form, c.Entra.CredentialForm())
			assert.Equal(t, tc.file, c.Entra.ClientAssertionFile)
			assert.Equal(t, tc.validate, c.Entra.ValidateLinkedDomain)
		})
	}
}

func TestWorkloadIdentityAloneTurnsNoHalfOn(t *testing.T) {
	ipaOnly := with(valid(), "ENTRA_TENANT_ID", "", "ENTRA_CLIENT_ID", "", "ENTRA_CLIENT_SECRET", "", "ENTRA_VERIFIER_DID", "",
		"AZURE_FEDERATED_TOKEN_FILE", "/azure")
	c := config.Load(env(ipaOnly))
	require.NoError(t, c.Validate())
	assert.False(t, c.Entra.Enabled())
	assert.Empty(t, c.Entra.ClientAssertionFile)
}
