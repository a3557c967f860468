package ipa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
)

// SessionLifetime is how long an IPA session lives at IDEMIA, and so with us.
const SessionLifetime = 30 * time.Minute

const (
	// recordRetry is the pause before an identity summary is stored again after a store error.
	recordRetry = time.Second
	// recordWindow bounds the attempts to store an identity summary once it has been retrieved.
	recordWindow = 30 * time.Second
)

// Store is the part of store.Store the IPA half uses.
type Store interface {
	CreateIPASession(ctx context.Context, s *store.IPASession, outbox ...*store.Delivery) error
	IPASession(ctx context.Context, id string) (*store.IPASession, error)
	IPASessionByToken(ctx context.Context, tokenHash string) (*store.IPASession, error)
	UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error)
}

// IDEMIA is what the service needs of IDEMIA's platforms (Client in production).
type IDEMIA interface {
	CreateSession(ctx context.Context, callbackURL, gotoURL string) (string, error)
	CheckCallback(cb *Callback, s *store.IPASession) error
	RetrievalEnabled() bool
	Retrieve(ctx context.Context, cb *Callback) *store.IdentitySummary
}

// Events turns a session that ended (completed, error, timeout) into its result event (result.Events in
// production), stored in the same step as the update that ends it: its transition or, for a completed
// session with identity retrieval on, the recording of the identity summary.
type Events interface {
	SessionEnded(s *store.IPASession) (*store.Delivery, error)
	// SessionExpired is the ipa.expired event of a session that expired unfinished.
	SessionExpired(s *store.IPASession) (*store.Delivery, error)
	// JourneyCompleted is journey.completed for the IPA-only journey whose session s just completed it.
	JourneyCompleted(s *store.IPASession, p *store.Presentation) (*store.Delivery, error)
}

// Options are a Service's settings and dependencies.
type Options struct {
	Config *config.Config
	IDEMIA IDEMIA
	Store  Store
	// Events, when set, gives the result events of a backend journey's sessions, and of every session with
	// AllSessionEvents (VERIFIER_RESULT_WEBHOOK_IPA).
	Events           Events
	AllSessionEvents bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service runs IPA sessions: launch, end-of-process callback, and identity retrieval.
type Service struct {
	cfg    *config.Config
	idemia IDEMIA
	store  Store
	events Events
	all    bool // events for browser-started sessions too
	now    func() time.Time

	ctx    context.Context // background retrievals; cancelled by Close
	cancel context.CancelFunc
	mu     sync.Mutex // orders wg.Add after Close's cancel
	wg     sync.WaitGroup
}

// NewService returns a Service for o; Close ends its background work.
func NewService(o Options) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: o.Config, idemia: o.IDEMIA, store: o.Store, events: o.Events, all: o.AllSessionEvents, now: o.Now, ctx: ctx, cancel: cancel}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Close stops background identity retrievals and waits for them; none starts afterwards.
func (s *Service) Close() {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// Create launches an IPA session at IDEMIA and stores it, bound to ownerHash; consentAt is when the person
// accepted the terms of use (zero when none were asked).
func (s *Service) Create(ctx context.Context, ownerHash string, consentAt time.Time) (*store.IPASession, error) {
	return s.CreateForJourney(ctx, ownerHash, JourneyStep{ConsentAt: consentAt})
}

// JourneyStep is what an IPA session created as a backend journey's step carries.
type JourneyStep struct {
	Ref *store.JourneyRef
	// Bind points the journey at the new session's id; it runs after IDEMIA answered and before the session
	// is stored, so that no stored session of the journey was never its newest.
	Bind func(ctx context.Context, id string) error
	// ConsentAt is when the person accepted the terms of use (zero when none were asked).
	ConsentAt time.Time
}

// CreateForJourney is Create for a step of a backend journey.
func (s *Service) CreateForJourney(ctx context.Context, ownerHash string, step JourneyStep) (*store.IPASession, error) {
	token, hash := NewCallbackToken()
	id, err := s.idemia.CreateSession(ctx, s.cfg.URL(routes.IPACallbackPath(token)), s.cfg.URL(routes.IPADone))
	if err != nil {
		return nil, fmt.Errorf("create IPA session: %w", err)
	}
	if step.Bind != nil {
		if err := step.Bind(ctx, id); err != nil {
			return nil, fmt.Errorf("bind IPA session to its journey: %w", err)
		}
	}
	start, err := StartURL(s.cfg.IPA.StartURL, id)
	if err != nil {
		return nil, fmt.Errorf("create IPA session: %w", err)
	}
	now := s.now().UTC()
	sess := &store.IPASession{
		ID: id, TokenHash: hash, OwnerHash: ownerHash, StartURL: start, Status: store.IPAPending,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(SessionLifetime), Journey: step.Ref.Clone(),
		ConsentAt: step.ConsentAt.UTC(),
	}
	var outbox []*store.Delivery
	if s.sends(sess) { // ipa.expired, should it expire unfinished
		outbox = append(outbox, store.NewTimer(store.TimerIPA, id, sess.ExpiresAt))
	}
	if err := s.store.CreateIPASession(ctx, sess, outbox...); err != nil {
		return nil, fmt.Errorf("store IPA session: %w", err)
	}
	slog.InfoContext(ctx, "IPA session created", "sessionId", id)
	return sess, nil
}

// Get returns the session id if ownerHash created it; any other reader gets store.ErrNotFound.
func (s *Service) Get(ctx context.Context, id, ownerHash string) (*store.IPASession, error) {
	sess, err := s.store.IPASession(ctx, id)
	if err != nil {
		return nil, err
	}
	if !store.SameOwner(sess.OwnerHash, ownerHash) {
		return nil, store.ErrNotFound
	}
	return sess, nil
}

// Outcome says what a callback did, for metrics and logs.
type Outcome struct {
	From, To store.IPAStatus
	Changed  bool
	// Late says the session had already expired: the notification was answered and changed nothing.
	Late bool
}

// HandleCallback applies IDEMIA's end-of-process notification body for the session whose callback token is
// token. Errors wrap store.ErrNotFound (unknown token), ErrMalformed or ErrForbidden, and change nothing; a
// repeat of the notification, or one for a session already expired, changes nothing and returns no error.
func (s *Service) HandleCallback(ctx context.Context, token string, body []byte) (Outcome, error) {
	ref, err := s.store.IPASessionByToken(ctx, HashCallbackToken(token))
	if err != nil {
		return Outcome{}, err
	}
	cb, err := DecodeCallback(body)
	if err != nil {
		return Outcome{}, err
	}
	if err := s.idemia.CheckCallback(cb, ref); err != nil {
		return Outcome{}, err
	}
	retrieve := s.idemia.RetrievalEnabled()
	var out Outcome
	var outbox []*store.Delivery
	var eventErr error
	// The updater may run more than once (a lost race): it only decides, and what it learnt is logged after.
	sess, err := s.store.UpdateIPASession(ctx, ref.ID, func(sess *store.IPASession) ([]*store.Delivery, error) {
		now := s.now().UTC()
		out, outbox, eventErr = Outcome{From: sess.Status, To: sess.Status, Late: !now.Before(sess.ExpiresAt)}, nil, nil
		if out.Late || !Transition(sess, cb, now) {
			return nil, store.ErrUnchanged
		}
		if !retrieve || sess.Status != store.IPACompleted { // else the summary's recording carries the event
			outbox, eventErr = s.endEvent(sess, now)
		}
		return outbox, nil
	})
	switch {
	case errors.Is(err, store.ErrUnchanged):
		switch {
		case out.Late:
			slog.InfoContext(ctx, "IPA callback for an expired session answered, nothing changed", "sessionId", ref.ID)
		case out.From != cb.Status:
			slog.WarnContext(ctx, "IPA callback conflicts with the recorded outcome; kept the first", "sessionId", ref.ID,
				"recorded", out.From, "received", cb.Status)
		case retrieve && sess.Status == store.IPACompleted && sess.Identity == nil && !s.now().Before(sess.RetrievalUntil):
			// A repeat of the completed notification, whose first answer may have been lost before its
			// retrieval started: start it unless another replica holds its lease (the one in hand still
			// running needs no try; leaseRetrieval decides the others).
			s.retrieveLater(sess.ID, cb)
		}
		return out, nil
	case err != nil:
		return Outcome{}, fmt.Errorf("update IPA session: %w", err)
	}
	if eventErr != nil { // the session goes on without its event
		slog.ErrorContext(ctx, "result event not queued", "sessionId", sess.ID, "err", eventErr)
	}
	out.To, out.Changed = sess.Status, true
	slog.InfoContext(ctx, "IPA session ended", "sessionId", sess.ID, "status", sess.Status, "webhook_id", store.DeliveryIDs(outbox))
	if retrieve && sess.Status == store.IPACompleted {
		s.retrieveLater(sess.ID, cb)
	}
	return out, nil
}

// Transition is the state machine of an IPA session: the first end-of-process notification ends a pending
// session as cb says (completed with its identity, error or timeout) and reports true; a session that has
// ended never changes again.
func Transition(sess *store.IPASession, cb *Callback, now time.Time) bool {
	if sess.Status.Final() {
		return false
	}
	sess.Status, sess.UpdatedAt, sess.Detail = cb.Status, now, cb.Detail
	if cb.Status == store.IPACompleted {
		sess.IdentityID, sess.ProofURL = cb.IdentityID, cb.ProofURL
	}
	return true
}

// retrieveLater fetches the identity in the background (IDEMIA wants its 2xx quickly), then records the
// summary with the session and notifies its watchers. It first takes the session's retrieval lease, so one
// replica at a time reads the identity: the one whose transition won, or the one a repeat of the notification
// reached when the first never started.
func (s *Service) retrieveLater(id string, cb *Callback) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		slog.Warn("identity retrieval skipped: shutting down", "sessionId", id)
		return
	}
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 2*DefaultRetrievalTimeout)
		defer cancel()
		if !s.leaseRetrieval(ctx, id) {
			return
		}
		sum := s.idemia.Retrieve(ctx, cb)
		if sum == nil { // a completed callback that names no identity: say so, so readers stop waiting
			sum = &store.IdentitySummary{Error: "no_identity"}
		}
		ctx, cancel = context.WithTimeout(s.ctx, recordWindow) // a slow IDEMIA leaves the recording its own time
		defer cancel()
		s.recordIdentity(ctx, id, sum)
	})
}

// retrievalLease bounds one replica's identity retrieval and recording; another may take over after it.
const retrievalLease = 2*DefaultRetrievalTimeout + recordWindow

// leaseRetrieval takes session id's retrieval lease and reports whether this replica now holds it: not when
// the summary is already recorded, or another replica's lease is still running.
func (s *Service) leaseRetrieval(ctx context.Context, id string) bool {
	_, err := s.store.UpdateIPASession(ctx, id, func(sess *store.IPASession) ([]*store.Delivery, error) {
		now := s.now().UTC()
		if sess.Identity != nil || now.Before(sess.RetrievalUntil) {
			return nil, store.ErrUnchanged
		}
		sess.RetrievalUntil = now.Add(retrievalLease)
		return nil, nil
	})
	if err != nil && !errors.Is(err, store.ErrUnchanged) {
		slog.WarnContext(ctx, "identity retrieval not started: the session's lease could not be taken", "sessionId", id, "err", err)
	}
	return err == nil
}

// recordIdentity stores sum with session id and, in the same step, the session's result event. A store that
// is unavailable is tried again after recordRetry until ctx ends: the identity has been read, so the summary
// is not given up at the first hiccup. A session that already has a summary (an earlier write whose answer
// was lost) is left as it is, so the event is queued once.
func (s *Service) recordIdentity(ctx context.Context, id string, sum *store.IdentitySummary) {
	var outbox []*store.Delivery
	var eventErr error
	err := store.WhileUnavailable(ctx, recordRetry, func(err error) {
		slog.WarnContext(ctx, "recording the identity summary again after a store error", "sessionId", id, "err", err)
	}, func() error {
		_, err := s.store.UpdateIPASession(ctx, id, func(sess *store.IPASession) ([]*store.Delivery, error) {
			outbox, eventErr = nil, nil
			if sess.Identity != nil {
				return nil, store.ErrUnchanged
			}
			sess.Identity, sess.UpdatedAt, sess.RetrievalUntil = sum, s.now().UTC(), time.Time{}
			outbox, eventErr = s.endEvent(sess, sess.UpdatedAt)
			return outbox, nil
		})
		return err
	})
	switch {
	case err == nil:
		if eventErr != nil {
			slog.ErrorContext(ctx, "result event not queued", "sessionId", id, "err", eventErr)
		}
		slog.InfoContext(ctx, "identity retrieved", "sessionId", id, "error", sum.Error, "webhook_id", store.DeliveryIDs(outbox))
	case errors.Is(err, store.ErrUnchanged):
		slog.InfoContext(ctx, "identity summary already recorded", "sessionId", id)
	case errors.Is(err, store.ErrNotFound):
		slog.WarnContext(ctx, "identity retrieved for a session that is gone", "sessionId", id)
	default:
		slog.ErrorContext(ctx, "could not record the identity summary nor its result event", "sessionId", id, "err", err)
	}
}

// endEvent is the result event of sess, as the outbox of the update that ends it; none when sess has no
// events. For the final step of a journey that completes, it also marks the journey completed, with
// journey.completed. An event that cannot be built is left out and its error returned, to be logged once
// the update is done (the session goes on without it).
func (s *Service) endEvent(sess *store.IPASession, now time.Time) ([]*store.Delivery, error) {
	completes := sess.Status == store.IPACompleted && sess.Journey.Complete(now)
	if !s.sends(sess) {
		return nil, nil
	}
	var outbox []*store.Delivery
	d, err := s.events.SessionEnded(sess)
	if err == nil && d != nil {
		outbox = append(outbox, d)
	}
	if completes {
		j, jerr := s.events.JourneyCompleted(sess, nil)
		if jerr == nil && j != nil {
			outbox = append(outbox, j)
		}
		err = errors.Join(err, jerr)
	}
	return outbox, err
}

// sends reports whether sess has result events: a journey's session always, another with AllSessionEvents.
func (s *Service) sends(sess *store.IPASession) bool {
	return s.events != nil && (sess.Journey != nil || s.all)
}

// Expire is the expiry timer of session id: a session that expired unfinished gets its ipa.expired event,
// once (the update marks it). A session that ended, or is gone, needs nothing.
func (s *Service) Expire(ctx context.Context, id string) error {
	var outbox []*store.Delivery
	_, err := s.store.UpdateIPASession(ctx, id, func(sess *store.IPASession) ([]*store.Delivery, error) {
		switch {
		case !s.sends(sess) || sess.Status.Final() || sess.ExpiryNotified:
			return nil, store.ErrUnchanged
		case s.now().Before(sess.ExpiresAt):
			return nil, store.ErrNotDue
		}
		d, err := s.events.SessionExpired(sess)
		if err != nil {
			return nil, err
		}
		sess.ExpiryNotified, outbox = true, []*store.Delivery{d}
		return outbox, nil
	})
	switch {
	case err == nil:
		slog.InfoContext(ctx, "IPA session expired unfinished", "sessionId", id, "webhook_id", store.DeliveryIDs(outbox))
		return nil
	case errors.Is(err, store.ErrUnchanged), errors.Is(err, store.ErrNotFound):
		return nil
	}
	return fmt.Errorf("expire IPA session: %w", err)
}

// View is a session as the page reads it: expired once past ExpiresAt while still pending.
func View(sess *store.IPASession, now time.Time) *store.IPASession {
	v := *sess
	if v.Status == store.IPAPending && !now.Before(v.ExpiresAt) {
		v.Status = store.IPAExpired
	}
	return &v
}
