package journey

import (
	"context"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
)

// completedSession returns the completed IPA session of journey id; ErrRetrievalOff first when identity
// retrieval is off, ErrNotCompleted before IPA completed or for a journey without an IPA step.
func (s *Service) completedSession(ctx context.Context, id string) (*store.IPASession, error) {
	if s.idemia == nil || !s.idemia.RetrievalEnabled() {
		return nil, ErrRetrievalOff
	}
	j, err := s.store.Journey(ctx, id)
	if err != nil {
		return nil, err
	}
	sess, state, err := s.newestSession(ctx, j.IPASessionID)
	if err != nil {
		return nil, err
	}
	if state != attemptGood || sess.IdentityID == "" {
		return nil, ErrNotCompleted
	}
	return sess, nil
}

// Identity reads, now, the IDEMIA identity payload of journey id's completed IPA step, byte for byte; it is
// neither stored nor logged.
func (s *Service) Identity(ctx context.Context, id string) ([]byte, error) {
	sess, err := s.completedSession(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.idemia.IdentityPayload(ctx, sess.IdentityID)
}

// Proof opens the proof archive of journey id's completed IPA step, unread, for the caller to stream; a
// proofUrl the SPEC section 2 rules refuse gives an error wrapping ipa.ErrProofRefused.
func (s *Service) Proof(ctx context.Context, id string) (*ipa.Proof, error) {
	sess, err := s.completedSession(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.idemia.OpenProof(ctx, sess.ProofURL)
}
