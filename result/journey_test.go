package result_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
)

// decoded is an event's body as a relying party reads it.
func decoded(t *testing.T, d *store.Delivery) (typ string, data map[string]any) {
	t.Helper()
	var ev struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(d.Body, &ev), string(d.Body))
	return ev.Type, ev.Data
}

func journeyRef(now time.Time) *store.JourneyRef {
	return &store.JourneyRef{ID: "j-1", Reference: "case-4711", Steps: []string{"ipa", "presentation"}, Final: true,
		CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour),
		IPA: &store.JourneyIPA{SessionID: "s-1", IdentityID: "gips-1", LevelOfAssurance: "LOA3", UpdatedAt: now.Add(-30 * time.Second)}}
}

func TestJourneyEvents(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	p := &store.Presentation{ID: "r-1", Status: store.PresentationVerified, Issuer: "did:web:us.did.idemia.io",
		Claims: map[string]any{"firstName": "Megan", "portrait": "_9j_"}, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(5 * time.Minute),
		Journey: journeyRef(now)}

	d, err := f.events.JourneyCompleted(nil, p)
	require.NoError(t, err)
	typ, data := decoded(t, d)
	assert.Equal(t, "journey.completed", typ)
	assert.Equal(t, "j-1", data["journeyId"])
	assert.Equal(t, "case-4711", data["reference"])
	assert.Equal(t, "completed", data["status"])
	assert.Equal(t, []any{"ipa", "presentation"}, data["steps"])
	ipa := data["ipa"].(map[string]any)
	assert.Equal(t, map[string]any{"sessionId": "s-1", "status": "completed", "identityId": "gips-1", "levelOfAssurance": "LOA3"}, ipa)
	pres := data["presentation"].(map[string]any)
	assert.Equal(t, "r-1", pres["requestId"])
	assert.Nil(t, pres["claims"], "journey events carry no claims")
	assert.Nil(t, pres["reason"])
	assert.True(t, d.NextAttempt.After(now), "it follows the step's own event, queued in the same update")

	s := &store.IPASession{ID: "s-2", Status: store.IPACompleted, IdentityID: "gips-2", UpdatedAt: now,
		Identity: &store.IdentitySummary{LevelOfAssurance: "LOA2"}, Journey: &store.JourneyRef{ID: "j-2", Reference: "ipa-only",
			Steps: []string{"ipa"}, Final: true, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}}
	d, err = f.events.JourneyCompleted(s, nil)
	require.NoError(t, err)
	typ, data = decoded(t, d)
	assert.Equal(t, "journey.completed", typ)
	assert.Equal(t, "ipa-only", data["reference"])
	assert.Equal(t, "LOA2", data["ipa"].(map[string]any)["levelOfAssurance"])
	assert.Nil(t, data["presentation"], "a step not in the journey is null")

	st := result.NewJourneyStatus(result.HeadOf(journeyRef(now), result.JourneyInProgress, now), nil,
		&store.Presentation{ID: "r-2", Status: store.PresentationFailed, Reason: "presentation_error", Detail: "claimValidationError",
			Claims: map[string]any{"firstName": "Eve"}}, result.ParseClaims("firstName"))
	assert.Equal(t, "presentation_error", *st.Presentation.Reason)
	assert.Equal(t, map[string]any{"firstName": "Eve"}, st.Presentation.Claims, "the status read keeps the allowed claims")
	d, err = f.events.JourneyExpired(st)
	require.NoError(t, err)
	typ, data = decoded(t, d)
	assert.Equal(t, "journey.expired", typ)
	assert.Equal(t, "expired", data["status"])
	assert.Nil(t, data["presentation"].(map[string]any)["claims"], "never claims in a journey event")
	assert.Equal(t, "claimValidationError", data["presentation"].(map[string]any)["detail"])
}

func TestExpiredEvents(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	p := &store.Presentation{ID: "r-1", Status: store.PresentationCreated, Claims: map[string]any{"firstName": "Megan"},
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now, Journey: journeyRef(now)}
	d, err := f.events.PresentationExpired(p)
	require.NoError(t, err)
	typ, data := decoded(t, d)
	assert.Equal(t, "presentation.expired", typ)
	assert.Equal(t, "expired", data["status"])
	assert.Nil(t, data["claims"])
	assert.Equal(t, "j-1", data["journeyId"])
	assert.Equal(t, store.PresentationCreated, p.Status, "the record itself is left alone")

	s := &store.IPASession{ID: "s-1", Status: store.IPAPending, CreatedAt: now, UpdatedAt: now, ExpiresAt: now}
	d, err = f.events.SessionExpired(s)
	require.NoError(t, err)
	typ, data = decoded(t, d)
	assert.Equal(t, "ipa.expired", typ)
	assert.Equal(t, "s-1", data["sessionId"])
	assert.Nil(t, data["journeyId"], "a browser-started session has no journey")
}

// TestTimersAreAppliedNeverPosted: a due timer goes to Timers, is retried later when that fails, removed once
// it succeeds, and never reaches the relying party's endpoint.
func TestTimersAreAppliedNeverPosted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	var applied []string
	fail := errors.New("not due on this replica's clock")
	f.hook.Timers = func(_ context.Context, tm *store.Timer) error {
		applied = append(applied, tm.Kind+":"+tm.ID)
		if len(applied) == 1 {
			return fail
		}
		return nil
	}
	require.NoError(t, f.store.CreatePresentation(ctx, &store.Presentation{ID: "r-1", State: "st-1", Status: store.PresentationCreated,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Minute)}, store.NewTimer(store.TimerPresentation, "r-1", now)))

	require.True(t, f.hook.DeliverOne(ctx), "the due timer is taken")
	assert.Equal(t, []string{"presentation:r-1"}, applied)
	assert.False(t, f.hook.DeliverOne(ctx), "a failed timer waits before it is tried again")
	f.clock.Add(11 * time.Second)
	require.True(t, f.hook.DeliverOne(ctx))
	assert.Equal(t, []string{"presentation:r-1", "presentation:r-1"}, applied)
	f.clock.Add(time.Hour)
	assert.False(t, f.hook.DeliverOne(ctx), "applied, then removed")
	assert.Empty(t, f.rcv.Hits(), "a timer is never POSTed")
}

// TestJourneyCompletedFollowsOnTheWallClock: with the real clock too, journey.completed is due in a later
// millisecond than the step event queued before it in the same update (the queue orders by millisecond).
func TestJourneyCompletedFollowsOnTheWallClock(t *testing.T) {
	events := &result.Events{Webhook: &result.Webhook{}}
	for range 200 {
		now := time.Now().UTC()
		p := &store.Presentation{ID: "r-1", Status: store.PresentationVerified, CreatedAt: now, UpdatedAt: now,
			ExpiresAt: now.Add(5 * time.Minute), Journey: journeyRef(now)}
		step, err := events.PresentationEnded(p)
		require.NoError(t, err)
		completed, err := events.JourneyCompleted(nil, p)
		require.NoError(t, err)
		require.Greater(t, completed.NextAttempt.UnixMilli(), step.NextAttempt.UnixMilli())
	}
}
