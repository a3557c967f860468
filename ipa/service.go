package ipa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

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
	CreateIPASession(ctx context.Context, s *store.IPASession) error
	IPASession(ctx context.Context, id string) (*store.IPASession, error)
	IPASessionByToken(ctx context.Context, tokenHash string) (*store.IPASession, error)
	UpdateIPASession(ctx context.Context, s *store.IPASession, outbox ...*store.Delivery) error
}

// Service runs IPA sessions: launch, end-of-process callback, and identity retrieval.
type Service struct {
	client    *Client
	store     Store
	publicURL string
	startURL  string
	// EndEvent, when set, returns the result event (nil for none) of a session that ends (completed, error,
	// timeout), stored in the same step as the update that ends it: its transition, or for a completed
	// session with identity retrieval on, the recording of the identity summary.
	EndEvent func(ctx context.Context, s *store.IPASession) *store.Delivery
	// Now is the clock; tests may replace it before use.
	Now func() time.Time

	ctx    context.Context // background retrievals; cancelled by Close
	cancel context.CancelFunc
	mu     sync.Mutex // orders wg.Add after Close's cancel
	wg     sync.WaitGroup
}

// NewService returns a Service; publicURL is VERIFIER_PUBLIC_URL (no trailing slash), startURL IPA_START_URL.
func NewService(client *Client, st Store, publicURL, startURL string) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{client: client, store: st, publicURL: publicURL, startURL: startURL, Now: time.Now, ctx: ctx, cancel: cancel}
}

// Close stops background identity retrievals and waits for them; none starts afterwards.
func (s *Service) Close() {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// Create launches an IPA session at IDEMIA and stores it, bound to ownerHash.
func (s *Service) Create(ctx context.Context, ownerHash string) (*store.IPASession, error) {
	token, hash := NewCallbackToken()
	id, err := s.client.CreateSession(ctx, s.publicURL+"/api/ipa/callback/"+token, s.publicURL+"/ipa/done")
	if err != nil {
		return nil, fmt.Errorf("create IPA session: %w", err)
	}
	start, err := StartURL(s.startURL, id)
	if err != nil {
		return nil, fmt.Errorf("create IPA session: %w", err)
	}
	now := s.Now().UTC()
	sess := &store.IPASession{
		ID: id, TokenHash: hash, OwnerHash: ownerHash, StartURL: start, Status: store.IPAPending,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(SessionLifetime),
	}
	if err := s.store.CreateIPASession(ctx, sess); err != nil {
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
}

// HandleCallback applies IDEMIA's end-of-process notification for the session whose callback token is
// token. Errors wrap store.ErrNotFound (unknown token or expired session), ErrMalformed or ErrForbidden,
// and change nothing; a repeat of the notification changes nothing and returns no error.
func (s *Service) HandleCallback(ctx context.Context, token string, body io.Reader) (Outcome, error) {
	sess, err := s.store.IPASessionByToken(ctx, HashCallbackToken(token))
	if err != nil {
		return Outcome{}, err
	}
	cb, err := DecodeCallback(body)
	if err != nil {
		return Outcome{}, err
	}
	for range 8 { // a lost compare-and-swap means another replica moved the session: re-read and re-decide
		if err := s.client.CheckCallback(cb, sess); err != nil {
			return Outcome{}, err
		}
		now := s.Now().UTC()
		if !now.Before(sess.ExpiresAt) {
			return Outcome{}, fmt.Errorf("IPA session expired: %w", store.ErrNotFound)
		}
		out := Outcome{From: sess.Status, To: sess.Status}
		if sess.Status.Final() {
			if sess.Status != cb.Status {
				slog.WarnContext(ctx, "IPA callback conflicts with the recorded outcome; kept the first", "sessionId", sess.ID,
					"recorded", sess.Status, "received", cb.Status)
			}
			return out, nil
		}
		sess.Status, sess.UpdatedAt = cb.Status, now
		if cb.Status == store.IPACompleted {
			sess.IdentityID, sess.ProofURL = cb.IdentityID, cb.ProofURL
		}
		retrieve := s.client.RetrievalEnabled() && sess.Status == store.IPACompleted
		var outbox []*store.Delivery
		if !retrieve {
			outbox = s.endEvent(ctx, sess)
		}
		switch err := s.store.UpdateIPASession(ctx, sess, outbox...); {
		case errors.Is(err, store.ErrConflict):
			if sess, err = s.store.IPASession(ctx, sess.ID); err != nil {
				return Outcome{}, err
			}
			continue
		case err != nil:
			return Outcome{}, fmt.Errorf("update IPA session: %w", err)
		}
		out.To, out.Changed = sess.Status, true
		slog.InfoContext(ctx, "IPA session ended", "sessionId", sess.ID, "status", sess.Status, "webhook_id", store.DeliveryIDs(outbox))
		if retrieve {
			s.retrieveLater(sess.ID, cb) // its update carries the result event
		}
		return out, nil
	}
	return Outcome{}, fmt.Errorf("update IPA session: %w", store.ErrConflict)
}

// retrieveLater fetches the identity in the background (IDEMIA wants its 2xx quickly), then records the
// summary with the session and notifies its watchers. Only the replica whose transition won runs it, so
// the proof, which IDEMIA discards once read, is fetched once.
func (s *Service) retrieveLater(id string, cb *Callback) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		slog.Warn("identity retrieval skipped: shutting down", "sessionId", id)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, 2*DefaultRetrievalTimeout)
		defer cancel()
		sum := s.client.Retrieve(ctx, cb)
		if sum == nil { // a completed callback that names no identity: say so, so readers stop waiting
			sum = &store.IdentitySummary{Error: "no_identity"}
		}
		ctx, cancel = context.WithTimeout(s.ctx, recordWindow) // a slow IDEMIA leaves the recording its own time
		defer cancel()
		s.recordIdentity(ctx, id, sum)
	}()
}

// recordIdentity stores sum with session id and, in the same step, the session's result event. A lost
// compare-and-swap is retried at once, a store error after recordRetry, until ctx ends: the proof has been
// read and IDEMIA discards it, so the summary is not given up at the first hiccup. A session that already
// has a summary (an earlier write whose answer was lost) is left as it is, so the event is queued once.
func (s *Service) recordIdentity(ctx context.Context, id string, sum *store.IdentitySummary) {
	for conflicts := 0; conflicts < 8; {
		sess, err := s.store.IPASession(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			slog.WarnContext(ctx, "identity retrieved for a session that is gone", "sessionId", id)
			return
		case err == nil && sess.Identity != nil:
			return
		case err == nil:
			sess.Identity, sess.UpdatedAt = sum, s.Now().UTC()
			outbox := s.endEvent(ctx, sess)
			if err = s.store.UpdateIPASession(ctx, sess, outbox...); err == nil {
				slog.InfoContext(ctx, "identity retrieved", "sessionId", id, "proof", sum.Proof, "error", sum.Error,
					"webhook_id", store.DeliveryIDs(outbox))
				return
			}
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				conflicts++
				continue // re-read: it moved, or is gone
			}
		}
		select {
		case <-ctx.Done():
			slog.ErrorContext(ctx, "could not record the identity summary nor its result event", "sessionId", id, "err", err)
			return
		case <-time.After(recordRetry):
			slog.WarnContext(ctx, "recording the identity summary again after a store error", "sessionId", id, "err", err)
		}
	}
	slog.ErrorContext(ctx, "identity summary not recorded: the session kept changing", "sessionId", id)
}

// endEvent is EndEvent's delivery for sess, as the outbox of the update that ends it.
func (s *Service) endEvent(ctx context.Context, sess *store.IPASession) []*store.Delivery {
	if s.EndEvent == nil {
		return nil
	}
	if d := s.EndEvent(ctx, sess); d != nil {
		return []*store.Delivery{d}
	}
	return nil
}

// View is a session as the page reads it: expired once past ExpiresAt while still pending.
func View(sess *store.IPASession, now time.Time) *store.IPASession {
	v := *sess
	if v.Status == store.IPAPending && !now.Before(v.ExpiresAt) {
		v.Status = store.IPAExpired
	}
	return &v
}
