package wellknown

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDIDForURL(t *testing.T) {
	tests := []struct {
		url, want, err string
	}{
		{url: "https://verifier.contoso.com/", want: "did:web:verifier.contoso.com"},
		{url: "https://Verifier.Contoso.COM", want: "did:web:verifier.contoso.com"},
		{url: "https://verifier.contoso.com:443/app", want: "did:web:verifier.contoso.com"},
		{url: "https://verifier.contoso.com:8443/", want: "did:web:verifier.contoso.com%3A8443"},
		{url: "http://localhost:8080", want: "did:web:localhost%3A8080"},
		{url: "http://localhost:80", want: "did:web:localhost"},
		{url: "ftp://verifier.contoso.com", err: "is not an absolute http(s) URL with a host"},
		{url: "/relative", err: "is not an absolute http(s) URL with a host"},
		{url: "https://[::1]:8443", err: "did:web cannot name an IPv6 address"},
		{url: "https://bad host", err: "VERIFIER_PUBLIC_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := DIDForURL(tt.url)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCheckDID(t *testing.T) {
	doc := func(id string) []byte { return []byte(`{"id":"` + id + `"}`) }
	const msDID = "did:web:verifiedid.entra.microsoft.com:00001111-aaaa-2222-bbbb-3333cccc4444:5e6f7a8b"
	tests := []struct {
		name        string
		didJSON     []byte
		publicURL   string
		verifierDID string
		status      DIDStatus
		want        []string // substrings of the error; none: no error
	}{
		{name: "match", didJSON: doc(testDID), publicURL: testURL, verifierDID: testDID, status: DIDServed},
		{name: "host upper case in URL", didJSON: doc(testDID), publicURL: "https://VERIFIER.contoso.com", verifierDID: testDID, status: DIDServed},
		{name: "port percent-encoded", didJSON: doc("did:web:verifier.contoso.com%3A8443"), publicURL: "https://verifier.contoso.com:8443/",
			verifierDID: "did:web:verifier.contoso.com%3A8443", status: DIDServed},
		{name: "port missing from id", didJSON: doc(testDID), publicURL: "https://verifier.contoso.com:8443/", verifierDID: testDID, status: DIDServed,
			want: []string{`did.json id "did:web:verifier.contoso.com" is not the DID of VERIFIER_PUBLIC_URL "https://verifier.contoso.com:8443/" ("did:web:verifier.contoso.com%3A8443"): serve the did.json of the authority registered for this domain`}},
		{name: "port colon not encoded", didJSON: doc("did:web:verifier.contoso.com:8443"), publicURL: "https://verifier.contoso.com:8443/",
			verifierDID: "did:web:verifier.contoso.com:8443", status: DIDServed,
			want: []string{`("did:web:verifier.contoso.com%3A8443")`}},
		{name: "other host", didJSON: doc("did:web:other.example"), publicURL: testURL, verifierDID: "did:web:other.example", status: DIDServed,
			want: []string{`did.json id "did:web:other.example" is not the DID of VERIFIER_PUBLIC_URL "https://verifier.contoso.com/" ("did:web:verifier.contoso.com")`}},
		{name: "not ENTRA_VERIFIER_DID", didJSON: doc(testDID), publicURL: testURL, verifierDID: "did:web:other.example", status: DIDServed,
			want: []string{`did.json id "did:web:verifier.contoso.com" is not ENTRA_VERIFIER_DID "did:web:other.example": set ENTRA_VERIFIER_DID to the DID of the authority whose did.json is served`}},
		{name: "both wrong", didJSON: doc("did:web:a.example"), publicURL: testURL, verifierDID: "did:web:b.example", status: DIDServed,
			want: []string{"is not the DID of VERIFIER_PUBLIC_URL", "is not ENTRA_VERIFIER_DID"}},
		{name: "did:web path", didJSON: doc(testDID + ":verifier:eu"), publicURL: testURL, verifierDID: testDID + ":verifier:eu", status: DIDServed},
		{name: "did:web path with a port", didJSON: doc("did:web:verifier.contoso.com%3A8443:eu"), publicURL: "https://verifier.contoso.com:8443",
			verifierDID: "did:web:verifier.contoso.com%3A8443:eu", status: DIDServed},
		{name: "did:web path not ENTRA_VERIFIER_DID", didJSON: doc(testDID + ":verifier:eu"), publicURL: testURL, verifierDID: testDID + ":verifier:us",
			status: DIDServed, want: []string{`did.json id "did:web:verifier.contoso.com:verifier:eu" is not ENTRA_VERIFIER_DID "did:web:verifier.contoso.com:verifier:us"`}},
		{name: "did:web path on another host", didJSON: doc("did:web:other.example:verifier"), publicURL: testURL, verifierDID: "did:web:other.example:verifier",
			status: DIDServed, want: []string{`is not the DID of VERIFIER_PUBLIC_URL`}},
		{name: "did:web path with an empty segment", didJSON: doc(testDID + "::eu"), publicURL: testURL, verifierDID: testDID + "::eu",
			status: DIDServed, want: []string{`has path segment "", which cannot be served`}},
		{name: "presentation half off", didJSON: doc(testDID), publicURL: testURL, status: DIDServed},
		{name: "no id", didJSON: []byte(`{"@context":[]}`), publicURL: testURL, verifierDID: testDID, status: DIDServed,
			want: []string{"did.json has no id: publish the did.json generated by Entra"}},
		{name: "bad public URL", didJSON: doc(testDID), publicURL: "verifier.contoso.com", verifierDID: testDID, status: DIDServed,
			want: []string{`VERIFIER_PUBLIC_URL "verifier.contoso.com" is not an absolute http(s) URL`}},
		{name: "not served", publicURL: testURL, verifierDID: testDID, status: DIDNotServed},
		{name: "hosted by Microsoft", publicURL: testURL, verifierDID: msDID, status: DIDHostedByMicrosoft},
		{name: "hosted by Microsoft, did.json served anyway", didJSON: doc(testDID), publicURL: testURL, verifierDID: msDID, status: DIDHostedByMicrosoft},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, err := CheckDID(tt.didJSON, tt.publicURL, tt.verifierDID)
			assert.Equal(t, tt.status, status)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestDIDDocumentPath(t *testing.T) {
	tests := []struct {
		did, want, err string
	}{
		{did: "did:web:verifier.contoso.com", want: "/.well-known/did.json"},
		{did: "did:web:verifier.contoso.com%3A8443", want: "/.well-known/did.json"},
		{did: "did:web:example.com:verifier:eu", want: "/verifier/eu/did.json"},
		{did: "did:web:example.com%3A8443:user_1", want: "/user_1/did.json"},
		{did: "did:ion:EiD...", want: "/.well-known/did.json"},
		{did: "did:web:example.com:..", err: `path segment ".."`},
		{did: "did:web:example.com:a%2Fb", err: `path segment "a%2Fb"`},
		{did: "did:web:example.com:", err: `path segment ""`},
	}
	for _, tt := range tests {
		t.Run(tt.did, func(t *testing.T) {
			got, err := DIDDocumentPath(tt.did)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDIDStatusString(t *testing.T) {
	assert.Equal(t, "hosted by Microsoft: no descriptors needed", DIDHostedByMicrosoft.String())
	assert.Equal(t, "did.json served for the verifier DID", DIDServed.String())
	assert.Equal(t, "did.json not served by this service: nothing to check", DIDNotServed.String())
	assert.Equal(t, "DIDStatus(9)", DIDStatus(9).String())
}

func TestIsHostedByMicrosoft(t *testing.T) {
	assert.True(t, IsHostedByMicrosoft("did:web:verifiedid.entra.microsoft.com:tenant:authority"))
	assert.True(t, IsHostedByMicrosoft("did:web:VerifiedID.entra.microsoft.com:tenant:authority"))
	assert.False(t, IsHostedByMicrosoft("did:web:verifiedid.entra.microsoft.com:"))
	assert.False(t, IsHostedByMicrosoft("did:web:verifiedid.entra.microsoft.com"))
	assert.False(t, IsHostedByMicrosoft("did:web:verifiedid.entra.microsoft.com.evil.example:x"))
	assert.False(t, IsHostedByMicrosoft(testDID))
}
