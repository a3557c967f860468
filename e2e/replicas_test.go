package e2e

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

func TestReplicasSharePresentationRequests(t *testing.T) {
	a := New(t, SharedRedis(t))
	b := a.Replica()
	lb := Route(t, a, func() int { return 1 }, a, b)

	c := a.Create()
	events := a.Events(t, "/api/verifier/presentation-requests/"+c.RequestID+"/events")
	assert.Equal(t, "created", NextEvent(t, events)["status"])

	require.Equal(t, http.StatusOK, a.Send(c.RequestID, sandbox.Retrieved()))
	assert.Equal(t, "retrieved", NextEvent(t, events)["status"], "A's stream hears of B's transition")
	assert.Equal(t, "retrieved", a.StatusOf(c.RequestID)["status"])

	require.Equal(t, http.StatusOK, a.Send(c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(USDID, Person()))))
	last := NextEvent(t, events)
	assert.Equal(t, "verified", last["status"])
	assert.Equal(t, "Megan", last["claims"].(map[string]any)["firstName"])
	RequireEnded(t, events)

	for name, r := range map[string]*Harness{"A": a, "B": b} {
		got := r.StatusOf(c.RequestID)
		assert.Equal(t, "verified", got["status"], "status on %s", name)
		assert.Equal(t, USDID, got["issuer"], "issuer on %s", name)
		assert.Equal(t, "Bowen", got["claims"].(map[string]any)["lastName"], "claims on %s", name)
	}
	assert.Equal(t, []int64{0, 2}, []int64{lb.hits[0].Load(), lb.hits[1].Load()}, "every callback landed on B")
}

// TestReplicasShareIPASessions creates an IPA session on replica A, has IDEMIA's callback land on replica B
// (which then retrieves the identity), and follows the session on A.
func TestReplicasShareIPASessions(t *testing.T) {
	a := New(t, SharedRedis(t))
	b := a.Replica()
	lb := Route(t, a, func() int { return 1 }, a, b)

	c := a.CreateSession()
	events := a.Events(t, "/api/ipa/sessions/"+c.SessionID+"/events")
	assert.Equal(t, "pending", NextEvent(t, events)["status"])

	a.EndSession(c.SessionID, sandbox.IPACompleted)
	var seen []string
	var last map[string]any
	for e := range events {
		seen, last = append(seen, e["status"].(string)), e
	}
	require.NotEmpty(t, seen, "A's stream hears of B's transition")
	for _, s := range seen {
		assert.Equal(t, "completed", s, "only the end of the journey follows pending")
	}
	identity, ok := last["identity"].(map[string]any)
	require.True(t, ok, "the stream ends with the identity summary B retrieved: %v", last)
	assert.Equal(t, sandbox.IPALevelOfAssurance, identity["levelOfAssurance"])
	assert.Equal(t, sandbox.IPAIdentityStatus, identity["status"])
	assert.Nil(t, identity["proof"], "the proof archive is not fetched")

	for name, r := range map[string]*Harness{"A": a, "B": b} {
		got := r.SessionOf(c.SessionID)
		assert.Equal(t, "completed", got["status"], "status on %s", name)
		assert.Equal(t, identity, got["identity"], "identity on %s", name)
		assert.NotEmpty(t, got["identityId"], "identityId on %s", name)
	}
	assert.Equal(t, []int64{0, 1}, []int64{lb.hits[0].Load(), lb.hits[1].Load()}, "the callback landed on B")
	assert.Equal(t, 1, a.GIPS.IdentityRequests(), "the identity was read once")
	assert.Zero(t, a.GIPS.ProofRequests(), "the proof archive is never fetched on our own")
}
