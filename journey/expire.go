package journey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/entra-verifier/entra-verifier/store"
)

// errCompleted: the final step completed the journey before its expiry closed it.
var errCompleted = errors.New("journey completed")

// Expire is journey id's expiry timer. A journey its final step has not completed is closed: first that
// step's record is marked Ended (refused, by the same compare-and-swap, once it completed the journey), then
// the journey's Outcome becomes expired, with journey.expired in the same update. Applied twice, or by two
// replicas, it acts once; a timer of an expiry the opening moved on does nothing (the opening queued its own).
func (s *Service) Expire(ctx context.Context, id string) error {
	j, err := s.store.Journey(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	case j.Outcome != "" || s.now().Before(j.ExpiresAt):
		return nil
	}
	ptr := *pointer(j, j.FinalStep())
	if ptr != "" {
		err := s.endStep(ctx, j.FinalStep(), ptr)
		switch {
		case errors.Is(err, errCompleted):
			return nil
		case err != nil && !errors.Is(err, store.ErrUnchanged) && !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("close journey step: %w", err)
		}
	}
	st, err := s.statusOf(ctx, j) // the event's data: the steps as they ended (closing a step leaves j as it was)
	if err != nil {
		return err
	}
	var outbox []*store.Delivery
	_, err = s.store.UpdateJourney(ctx, id, func(j *store.Journey) ([]*store.Delivery, error) {
		switch {
		case j.Outcome != "":
			return nil, store.ErrUnchanged
		case *pointer(j, j.FinalStep()) != ptr:
			return nil, fmt.Errorf("journey %s moved on while it expired", id)
		}
		j.Outcome, j.UpdatedAt, outbox = store.JourneyExpired, s.now().UTC(), nil
		if s.events != nil {
			d, err := s.events.JourneyExpired(st)
			if err != nil {
				return nil, err
			}
			outbox = append(outbox, d)
		}
		return outbox, nil
	})
	switch {
	case err == nil:
		slog.InfoContext(ctx, "journey expired", "journeyId", id, "webhook_id", store.DeliveryIDs(outbox))
		return nil
	case errors.Is(err, store.ErrUnchanged):
		return nil
	}
	return fmt.Errorf("expire journey: %w", err)
}

// endStep marks the final step's record id as closed by the journey's expiry, unless it completed it.
func (s *Service) endStep(ctx context.Context, step, id string) error {
	mark := func(r *store.JourneyRef) error {
		switch {
		case r == nil || r.Ended:
			return store.ErrUnchanged
		case !r.CompletedAt.IsZero():
			return errCompleted
		}
		r.Ended = true
		return nil
	}
	var err error
	if step == store.StepIPA {
		_, err = s.store.UpdateIPASession(ctx, id, func(v *store.IPASession) ([]*store.Delivery, error) { return nil, mark(v.Journey) })
	} else {
		_, err = s.store.UpdatePresentation(ctx, id, func(p *store.Presentation) ([]*store.Delivery, error) { return nil, mark(p.Journey) })
	}
	return err
}
