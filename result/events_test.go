package result_test

import (
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
)

var (
	paris   = time.FixedZone("CET", 3600)
	created = time.Date(2026, 3, 14, 10, 20, 0, 0, paris) // 09:20 UTC
	updated = time.Date(2026, 3, 14, 10, 21, 30, 0, paris)
)

func person() map[string]any {
	return map[string]any{"firstName": "Megan", "lastName": "Bowen", "dateOfBirth": "1990-04-12", "portrait": "_9j_4AAQ"}
}

func TestEventsPresentationEnded(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		p      store.Presentation
		want   string
	}{
		{
			name: "verified, only the allowed claims", claims: "firstName, lastName,dateOfBirth",
			p: store.Presentation{ID: "req-1", Status: store.PresentationVerified, Issuer: "did:web:us.did.idemia.io", Claims: person()},
			want: `{"type":"presentation.verified","timestamp":"2026-03-14T09:26:53Z","data":{"requestId":"req-1","status":"verified",
				"issuer":"did:web:us.did.idemia.io","claims":{"firstName":"Megan","lastName":"Bowen","dateOfBirth":"1990-04-12"},
				"createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
		{
			name: "the portrait only when listed", claims: "portrait",
			p: store.Presentation{ID: "req-2", Status: store.PresentationVerified, Issuer: "did:web:eu.did.idemia.io", Claims: person()},
			want: `{"type":"presentation.verified","timestamp":"2026-03-14T09:26:53Z","data":{"requestId":"req-2","status":"verified",
				"issuer":"did:web:eu.did.idemia.io","claims":{"portrait":"_9j_4AAQ"},
				"createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
		{
			name: "no claims allowed: no claims key", claims: "",
			p: store.Presentation{ID: "req-3", Status: store.PresentationVerified, Issuer: "did:web:us.did.idemia.io", Claims: person()},
			want: `{"type":"presentation.verified","timestamp":"2026-03-14T09:26:53Z","data":{"requestId":"req-3","status":"verified",
				"issuer":"did:web:us.did.idemia.io","createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
		{
			name: "failed, with reason and detail", claims: "firstName",
			p: store.Presentation{ID: "req-4", Status: store.PresentationFailed, Reason: "presentation_error", Detail: "claimValidationError"},
			want: `{"type":"presentation.failed","timestamp":"2026-03-14T09:26:53Z","data":{"requestId":"req-4","status":"failed",
				"reason":"presentation_error","detail":"claimValidationError","createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			ev := &result.Events{Webhook: &result.Webhook{Now: c.Now}, Claims: result.ParseClaims(tc.claims)}
			p := tc.p
			p.State, p.OwnerHash, p.URL, p.ReturnTo = "state-secret", "owner-hash", "openid-vc://?request_uri=x", "https://rp.example.com/"
			p.CreatedAt, p.UpdatedAt, p.ExpiresAt = created, updated, updated.Add(time.Hour)
			before := maps.Clone(p.Claims)
			d, err := ev.PresentationEnded(&p)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(d.Body), "nothing but the event: no state, owner, URL or return URL")
			assert.Equal(t, c.Now(), d.CreatedAt)
			assert.Equal(t, before, p.Claims, "the record's claims are left alone")
		})
	}
}

func TestEventsSessionEnded(t *testing.T) {
	tests := []struct {
		name string
		s    store.IPASession
		want string
	}{
		{
			name: "completed, with the level of assurance",
			s: store.IPASession{ID: "sess-1", Status: store.IPACompleted, IdentityID: "id-42", ProofURL: "https://ipa.example.com/proof",
				Identity: &store.IdentitySummary{LevelOfAssurance: "LOA3", Status: "VERIFIED"}},
			want: `{"type":"ipa.completed","timestamp":"2026-03-14T09:26:53Z","data":{"sessionId":"sess-1","status":"completed",
				"identityId":"id-42","levelOfAssurance":"LOA3","createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
		{
			name: "completed, nothing retrieved",
			s:    store.IPASession{ID: "sess-2", Status: store.IPACompleted, IdentityID: "id-43"},
			want: `{"type":"ipa.completed","timestamp":"2026-03-14T09:26:53Z","data":{"sessionId":"sess-2","status":"completed",
				"identityId":"id-43","createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
		{
			name: "completed after the terms were accepted: the acceptance time, in UTC",
			s:    store.IPASession{ID: "sess-5", Status: store.IPACompleted, IdentityID: "id-44", ConsentAt: created.Add(-time.Minute)},
			want: `{"type":"ipa.completed","timestamp":"2026-03-14T09:26:53Z","data":{"sessionId":"sess-5","status":"completed",
				"identityId":"id-44","consentAcceptedAt":"2026-03-14T09:19:00Z","createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
		{
			name: "error",
			s:    store.IPASession{ID: "sess-3", Status: store.IPAError},
			want: `{"type":"ipa.error","timestamp":"2026-03-14T09:26:53Z","data":{"sessionId":"sess-3","status":"error",
				"createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
		{
			name: "timeout",
			s:    store.IPASession{ID: "sess-4", Status: store.IPATimeout, Identity: &store.IdentitySummary{Error: "gips unavailable"}},
			want: `{"type":"ipa.timeout","timestamp":"2026-03-14T09:26:53Z","data":{"sessionId":"sess-4","status":"timeout",
				"createdAt":"2026-03-14T09:20:00Z","updatedAt":"2026-03-14T09:21:30Z"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			ev := &result.Events{Webhook: &result.Webhook{Now: c.Now}, Claims: result.ParseClaims("firstName")}
			s := tc.s
			s.TokenHash, s.OwnerHash, s.StartURL = "token-hash", "owner-hash", "https://ipa.example.com/start"
			s.CreatedAt, s.UpdatedAt, s.ExpiresAt = created, updated, updated.Add(time.Hour)
			d, err := ev.SessionEnded(&s)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(d.Body), "nothing but the event: no token hash, owner, start or proof URL")
		})
	}
}

func TestEventsCarryUnencodableClaimsAsAnError(t *testing.T) {
	ev := &result.Events{Webhook: &result.Webhook{}, Claims: result.ParseClaims("firstName")}
	_, err := ev.PresentationEnded(&store.Presentation{ID: "req-1", Status: store.PresentationVerified,
		Claims: map[string]any{"firstName": make(chan int)}})
	assert.ErrorContains(t, err, "encode result event")
	d, err := ev.PresentationEnded(&store.Presentation{ID: "req-1", Status: store.PresentationVerified,
		Claims: map[string]any{"lastName": make(chan int)}})
	require.NoError(t, err, "a claim that is not allowed is not encoded")
	var got result.Event
	require.NoError(t, json.Unmarshal(d.Body, &got))
	assert.Nil(t, got.Data.Claims)
}

func TestParseClaims(t *testing.T) {
	tests := []struct {
		list string
		want result.Claims
	}{
		{"", nil},
		{" , ,", nil},
		{"firstName", result.Claims{"firstName"}},
		{" firstName , lastName,,dateOfBirth ,", result.Claims{"firstName", "lastName", "dateOfBirth"}},
		{"first name", result.Claims{"first name"}},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, result.ParseClaims(tc.list), "%q", tc.list)
	}
}

func TestClaimsFilterTable(t *testing.T) {
	tests := []struct {
		name    string
		allowed result.Claims
		all     map[string]any
		want    map[string]any
	}{
		{"nothing allowed", nil, person(), nil},
		{"no claims", result.Claims{"firstName"}, nil, nil},
		{"allowed but absent", result.Claims{"nationality"}, person(), nil},
		{"some", result.Claims{"firstName", "nationality"}, person(), map[string]any{"firstName": "Megan"}},
		{"names are case-sensitive", result.Claims{"FirstName"}, person(), nil},
		{"a null claim is passed on", result.Claims{"middleName"}, map[string]any{"middleName": nil}, map[string]any{"middleName": nil}},
		{"nested values whole", result.Claims{"address"}, map[string]any{"address": map[string]any{"city": "Paris"}},
			map[string]any{"address": map[string]any{"city": "Paris"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.allowed.Filter(tc.all)
			assert.Equal(t, tc.want, got)
			if tc.want == nil {
				assert.Nil(t, got, "nil, not an empty map, so that the event has no claims key")
			}
		})
	}
}
