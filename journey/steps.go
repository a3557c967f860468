package journey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// ErrNoSuchStep: the journey does not hold the step the page asked for (answered 409).
var ErrNoSuchStep = errors.New("the journey has no such step")

// attempt is what the newest attempt of a step tells the next create.
type attempt int

const (
	attemptNone    attempt = iota // none yet, or one that ended badly: a new one may start
	attemptPending                // still running: the page resumes it
	attemptGood                   // ended well: the step is done
	attemptMissing                // pointed at, not stored (yet)
)

// StartIPA returns the IPA session of journey j for its browser ownerHash: the pending one the page resumes,
// or a new one when there is none or the last ended badly; consentAt is when the person accepted the terms of
// use (zero when none were asked).
func (s *Service) StartIPA(ctx context.Context, j *store.Journey, ownerHash string, consentAt time.Time) (sess *store.IPASession, created bool, err error) {
	if !j.Has(store.StepIPA) || s.sessions == nil {
		return nil, false, ErrNoSuchStep
	}
	cur, state, err := s.newestSession(ctx, j.IPASessionID)
	if err != nil {
		return nil, false, err
	}
	if resume, err := s.next(j, state); err != nil || resume {
		return cur, false, err
	}
	sess, err = s.sessions.CreateForJourney(ctx, ownerHash, ipa.JourneyStep{
		Ref: j.Ref(j.FinalStep() == store.StepIPA), Bind: s.bind(j.ID, store.StepIPA, j.IPASessionID), ConsentAt: consentAt,
	})
	return sess, err == nil, err
}

// StartPresentation is StartIPA for the presentation step; in a journey of both steps it starts only once
// the IPA step completed.
func (s *Service) StartPresentation(ctx context.Context, j *store.Journey, ownerHash string) (p *store.Presentation, created bool, err error) {
	if !j.Has(store.StepPresentation) || s.presentations == nil {
		return nil, false, ErrNoSuchStep
	}
	ref := j.Ref(true)
	if j.Has(store.StepIPA) {
		sess, state, err := s.newestSession(ctx, j.IPASessionID)
		if err != nil {
			return nil, false, err
		}
		if state != attemptGood {
			return nil, false, ErrNotCompleted
		}
		ref.IPA = &store.JourneyIPA{SessionID: sess.ID, IdentityID: sess.IdentityID, UpdatedAt: sess.UpdatedAt}
		if sess.Identity != nil {
			ref.IPA.LevelOfAssurance = sess.Identity.LevelOfAssurance
		}
	}
	cur, state, err := s.newestPresentation(ctx, j.PresentationID)
	if err != nil {
		return nil, false, err
	}
	if resume, err := s.next(j, state); err != nil || resume {
		return cur, false, err
	}
	p, err = s.presentations.CreateForJourney(ctx, ownerHash, verifier.JourneyStep{
		Ref: ref, ReturnTo: j.ReturnURL, Expected: j.ExpectedClaims, Bind: s.bind(j.ID, store.StepPresentation, j.PresentationID),
	})
	return p, err == nil, err
}

// next says what the newest attempt's state leaves a create to do: resume the attempt (true), start another
// (false), or neither (the error).
func (s *Service) next(j *store.Journey, state attempt) (resume bool, err error) {
	switch {
	case state == attemptGood:
		return false, ErrStepDone
	case state == attemptMissing && s.now().Before(j.StepSetAt.Add(store.StepGrace)):
		return false, ErrBusy
	}
	return state == attemptPending, nil
}

// bind returns the Bind of a new attempt of step: it points journey id at the attempt, if the journey still
// points where it did when the create began and still accepts steps.
func (s *Service) bind(id, step, prev string) func(ctx context.Context, newID string) error {
	return func(ctx context.Context, newID string) error {
		_, err := s.store.UpdateJourney(ctx, id, func(j *store.Journey) ([]*store.Delivery, error) {
			now := s.now().UTC()
			ptr := pointer(j, step)
			switch {
			case j.Outcome != "" || !now.Before(j.ExpiresAt):
				return nil, ErrStepDone
			case *ptr != prev:
				return nil, ErrBusy
			}
			*ptr, j.StepSetAt, j.UpdatedAt = newID, now, now
			return nil, nil
		})
		return err
	}
}

// pointer is j's pointer at its newest attempt of step.
func pointer(j *store.Journey, step string) *string {
	if step == store.StepIPA {
		return &j.IPASessionID
	}
	return &j.PresentationID
}

func (s *Service) newestSession(ctx context.Context, id string) (*store.IPASession, attempt, error) {
	return newest(ctx, id, s.store.IPASession, func(sess *store.IPASession) (*store.IPASession, attempt) {
		v := ipa.View(sess, s.now())
		switch v.Status {
		case store.IPAPending:
			return v, attemptPending
		case store.IPACompleted:
			return v, attemptGood
		}
		return v, attemptNone
	})
}

func (s *Service) newestPresentation(ctx context.Context, id string) (*store.Presentation, attempt, error) {
	return newest(ctx, id, s.store.Presentation, func(p *store.Presentation) (*store.Presentation, attempt) {
		v := verifier.View(p, s.now())
		switch v.Status {
		case store.PresentationCreated, store.PresentationRetrieved:
			return v, attemptPending
		case store.PresentationVerified:
			return v, attemptGood
		}
		return v, attemptNone
	})
}

// newest reads a journey's newest attempt id of one step and judges it: none without an id, missing when the
// record is not (or no longer) stored.
func newest[R any](ctx context.Context, id string, read func(context.Context, string) (R, error), judge func(R) (R, attempt)) (R, attempt, error) {
	var none R
	if id == "" {
		return none, attemptNone, nil
	}
	rec, err := read(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return none, attemptMissing, nil
	case err != nil:
		return none, 0, fmt.Errorf("read journey step: %w", err)
	}
	v, a := judge(rec)
	return v, a, nil
}

// latest is the later of ts.
func latest(ts ...time.Time) time.Time {
	return slices.MaxFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}
