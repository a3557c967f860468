package ipa_test

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
)

const fixtureSession = "ba7ce9dc-c182-4907-875c-ce1942239099"

func TestDecodeCallbackFixtures(t *testing.T) {
	tests := []struct {
		file string
		want ipa.Callback
	}{
		{"callback-completed.json", ipa.Callback{
			ApplicationID: testApplicationID, SessionID: fixtureSession, Status: store.IPACompleted,
			IdentityID: "gips-2d4ac3d2-053c-4f9e-9ef0-c9a0f251c667",
			ProofURL:   "https://proofing.idemia.io/gips/v1/identities/gips-2d4ac3d2-053c-4f9e-9ef0-c9a0f251c667/proof",
			Timestamp:  time.Unix(1733294237, 918866600).UTC(),
		}},
		{"callback-error.json", ipa.Callback{
			ApplicationID: testApplicationID, SessionID: fixtureSession, Status: store.IPAError,
			Timestamp: time.Unix(1733294301, 552100000).UTC(),
		}},
		{"callback-heartbeat-timeout.json", ipa.Callback{
			ApplicationID: testApplicationID, SessionID: fixtureSession, Status: store.IPATimeout,
			Timestamp: time.Unix(1733296037, 10400000).UTC(),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + tt.file)
			require.NoError(t, err)
			cb, err := ipa.DecodeCallback(body)
			require.NoError(t, err)
			assert.WithinDuration(t, tt.want.Timestamp, cb.Timestamp, time.Microsecond)
			cb.Timestamp = tt.want.Timestamp
			assert.Equal(t, tt.want, *cb)
		})
	}
}

func TestDecodeCallbackRejectsMalformedBodies(t *testing.T) {
	const sid = `"sessionId":"` + fixtureSession + `"`
	tests := map[string]string{
		"empty":                   ``,
		"not JSON":                `applicationId=x`,
		"null":                    `null`,
		"array":                   `[]`,
		"trailing data":           `{"applicationId":"a",` + sid + `,"timestamp":1} {}`,
		"applicationId missing":   `{` + sid + `,"timestamp":1}`,
		"applicationId empty":     `{"applicationId":"",` + sid + `,"timestamp":1}`,
		"applicationId a number":  `{"applicationId":7,` + sid + `,"timestamp":1}`,
		"sessionId missing":       `{"applicationId":"a","timestamp":1}`,
		"sessionId a number":      `{"applicationId":"a","sessionId":1,"timestamp":1}`,
		"sessionId not a UUID":    `{"applicationId":"a","sessionId":"ba7ce9dc-c182-4907-875c-ce194223909","timestamp":1}`,
		"sessionId with a path":   `{"applicationId":"a","sessionId":"../../../../etc/passwd/aaaaaaaaaaaaa","timestamp":1}`,
		"timestamp missing":       `{"applicationId":"a",` + sid + `}`,
		"timestamp null":          `{"applicationId":"a",` + sid + `,"timestamp":null}`,
		"timestamp a string":      `{"applicationId":"a",` + sid + `,"timestamp":"1733294237"}`,
		"timestamp negative":      `{"applicationId":"a",` + sid + `,"timestamp":-1}`,
		"timestamp huge":          `{"applicationId":"a",` + sid + `,"timestamp":1e300}`,
		"status a control char":   `{"applicationId":"a",` + sid + `,"timestamp":1,"status":"DONE\n"}`,
		"status too long":         `{"applicationId":"a",` + sid + `,"timestamp":1,"status":"` + strings.Repeat("X", 257) + `"}`,
		"status a number":         `{"applicationId":"a",` + sid + `,"timestamp":1,"status":3}`,
		"identityId an object":    `{"applicationId":"a",` + sid + `,"timestamp":1,"identityId":{}}`,
		"identityId control char": `{"applicationId":"a",` + sid + `,"timestamp":1,"identityId":"gips-1\n2"}`,
		"proofUrl too long":       `{"applicationId":"a",` + sid + `,"timestamp":1,"proofUrl":"https://x/` + strings.Repeat("a", 3000) + `"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			cb, err := ipa.DecodeCallback([]byte(body))
			assert.ErrorIs(t, err, ipa.ErrMalformed)
			assert.Nil(t, cb)
		})
	}
}

func TestDecodeCallbackUndocumentedStatusIsAnError(t *testing.T) {
	tests := []struct {
		name, status string
		want         store.IPAStatus
		detail       string
	}{
		{"ERROR", `"ERROR"`, store.IPAError, ""},
		{"HEARTBEAT_TIMEOUT", `"HEARTBEAT_TIMEOUT"`, store.IPATimeout, ""},
		{"a value IDEMIA added", `"DOCUMENT_EXPIRED"`, store.IPAError, "DOCUMENT_EXPIRED"},
		{"lower case", `"error"`, store.IPAError, "error"},
		{"empty", `""`, store.IPAError, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cb, err := ipa.DecodeCallback([]byte(`{"applicationId":"a","sessionId":"` + fixtureSession +
				`","timestamp":1733294237,"status":` + tc.status + `}`))
			require.NoError(t, err)
			assert.Equal(t, tc.want, cb.Status)
			assert.Equal(t, tc.detail, cb.Detail)
		})
	}
}

func TestDecodeCallbackIgnoresUnknownFieldsAndNullStatus(t *testing.T) {
	cb, err := ipa.DecodeCallback([]byte(`{"applicationId":"a","sessionId":"BA7CE9DC-C182-4907-875C-CE1942239099",` +
		`"timestamp":1733294237,"status":null,"future":{"x":1}}`))
	require.NoError(t, err)
	assert.Equal(t, store.IPACompleted, cb.Status)
	assert.Equal(t, fixtureSession, cb.SessionID)
}

func TestCheckCallback(t *testing.T) {
	session := &store.IPASession{ID: fixtureSession, Status: store.IPAPending}
	tests := []struct {
		name          string
		applicationID string // configured IPA_APPLICATION_ID
		cb            ipa.Callback
		session       *store.IPASession
		forbidden     bool
	}{
		{name: "matching", applicationID: testApplicationID,
			cb: ipa.Callback{ApplicationID: testApplicationID, SessionID: fixtureSession}, session: session},
		{name: "no application id configured", applicationID: "",
			cb: ipa.Callback{ApplicationID: "anything", SessionID: fixtureSession}, session: session},
		{name: "session stored in upper case", applicationID: testApplicationID,
			cb:      ipa.Callback{ApplicationID: testApplicationID, SessionID: fixtureSession},
			session: &store.IPASession{ID: strings.ToUpper(fixtureSession)}},
		{name: "other session", applicationID: testApplicationID, forbidden: true,
			cb: ipa.Callback{ApplicationID: testApplicationID, SessionID: "00000000-0000-4000-8000-000000000000"}, session: session},
		{name: "other application", applicationID: testApplicationID, forbidden: true,
			cb: ipa.Callback{ApplicationID: "1l5lv91ugi401pieqpcd77bc1X", SessionID: fixtureSession}, session: session},
		{name: "application id prefix", applicationID: testApplicationID, forbidden: true,
			cb: ipa.Callback{ApplicationID: testApplicationID[:5], SessionID: fixtureSession}, session: session},
		{name: "no session", applicationID: testApplicationID, forbidden: true,
			cb: ipa.Callback{ApplicationID: testApplicationID, SessionID: fixtureSession}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ipa.New(ipa.Config{CognitoURL: "https://cognito.example", ClientID: "id", ClientSecret: "s",
				ApplicationID: tt.applicationID})
			require.NoError(t, err)
			err = c.CheckCallback(&tt.cb, tt.session)
			if tt.forbidden {
				assert.ErrorIs(t, err, ipa.ErrForbidden)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func TestCallbackToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		token, hash := ipa.NewCallbackToken()
		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err)
		assert.Len(t, raw, 16)
		assert.Len(t, token, 22)
		assert.Len(t, hash, 64)
		assert.Equal(t, hash, ipa.HashCallbackToken(token))
		assert.NotContains(t, hash, token)
		require.False(t, seen[token], "tokens repeat")
		seen[token] = true
	}
	// Known answer: SHA-256("abc").
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ipa.HashCallbackToken("abc"))
}

func TestStartURL(t *testing.T) {
	tests := []struct {
		name, base, want string
		wantErr          bool
	}{
		{name: "default", base: ipa.DefaultStartURL,
			want: "https://rp-handler.did.idemia.io/api/v1/ipa/start?session-id=" + fixtureSession},
		{name: "base with a query", base: "https://ipa.example/start?lang=fr&b=a%20b",
			want: "https://ipa.example/start?lang=fr&b=a%20b&session-id=" + fixtureSession},
		{name: "base with a session-id", base: "https://ipa.example/start?session-id=old&x=1",
			want: "https://ipa.example/start?session-id=" + fixtureSession + "&x=1"},
		{name: "relative base", base: "/start", wantErr: true},
		{name: "not a URL", base: "https://[::1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ipa.StartURL(tt.base, fixtureSession)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
