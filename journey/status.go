package journey

import (
	"context"
	"time"

	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
)

// Status reads journey id's status, derived now from the journey and the records of its newest attempts.
func (s *Service) Status(ctx context.Context, id string) (result.JourneyStatus, error) {
	j, err := s.store.Journey(ctx, id)
	if err != nil {
		return result.JourneyStatus{}, err
	}
	return s.statusOf(ctx, j)
}

// statusOf is the status of j, read from its newest attempts.
func (s *Service) statusOf(ctx context.Context, j *store.Journey) (result.JourneyStatus, error) {
	sess, _, err := s.newestSession(ctx, j.IPASessionID)
	if err != nil {
		return result.JourneyStatus{}, err
	}
	p, _, err := s.newestPresentation(ctx, j.PresentationID)
	if err != nil {
		return result.JourneyStatus{}, err
	}
	return s.status(j, sess, p), nil
}

// status derives the status of j from the views of its newest attempts.
func (s *Service) status(j *store.Journey, sess *store.IPASession, p *store.Presentation) result.JourneyStatus {
	updated := []time.Time{j.UpdatedAt}
	var final *store.JourneyRef
	if sess != nil {
		updated = append(updated, sess.UpdatedAt)
		if j.FinalStep() == store.StepIPA {
			final = sess.Journey
		}
	}
	if p != nil {
		updated = append(updated, p.UpdatedAt)
		final = p.Journey
	}
	status := result.JourneyInProgress
	switch {
	case j.Outcome == store.JourneyExpired:
		status = result.JourneyExpired
	case final != nil && !final.CompletedAt.IsZero():
		status = result.JourneyCompleted
	case !s.now().Before(j.ExpiresAt):
		status = result.JourneyExpired
	case j.OpenedAt.IsZero():
		status = result.JourneyPending
	}
	h := result.JourneyHead{ID: j.ID, Reference: j.Reference, Status: status, Steps: j.Steps, CreatedAt: j.CreatedAt,
		UpdatedAt: latest(updated...), ExpiresAt: j.ExpiresAt}
	return result.NewJourneyStatus(h, sess, p, s.claims)
}
