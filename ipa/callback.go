package ipa

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/store"
)

// MaxCallbackBytes bounds the body of an end-of-process notification (the documented one is under 1 KiB);
// the HTTP layer answers 413 beyond it.
const MaxCallbackBytes = 64 << 10

// Limits on the free-form fields of a callback, so nothing unbounded reaches the store.
const (
	maxFieldBytes    = 256
	maxProofURLBytes = 2048
)

// Callback is IDEMIA's end-of-process notification, decoded and checked for shape.
type Callback struct {
	ApplicationID string
	// SessionID is the UUID of the session, in lower case.
	SessionID string
	// Status is IPACompleted when the notification has no status, IPAError for ERROR (application error or
	// user abort) and IPATimeout for HEARTBEAT_TIMEOUT. Any other status is still an abnormal end: IPAError,
	// with the value in Detail (IDEMIA may add values; refusing them would only make it retry and give up).
	Status store.IPAStatus
	// Detail is the status as sent when IDEMIA did not document it; "" otherwise.
	Detail string
	// IdentityID and ProofURL are set when an identity was created. ProofURL is untrusted: see OpenProof.
	IdentityID string
	ProofURL   string
	// Timestamp is when IDEMIA created the notification.
	Timestamp time.Time
}

// DecodeCallback decodes the notification body data. Any body that is not the documented notification gives
// an error wrapping ErrMalformed.
func DecodeCallback(data []byte) (*Callback, error) {
	var raw struct {
		ApplicationID string   `json:"applicationId"`
		IdentityID    string   `json:"identityId"`
		SessionID     string   `json:"sessionId"`
		Status        *string  `json:"status"`
		ProofURL      string   `json:"proofUrl"`
		Timestamp     *float64 `json:"timestamp"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		// The decoder's message names a field or an offset, never the body's content.
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	cb := &Callback{ApplicationID: raw.ApplicationID, IdentityID: raw.IdentityID, ProofURL: raw.ProofURL}
	switch {
	case raw.ApplicationID == "":
		return nil, fmt.Errorf("%w: applicationId missing", ErrMalformed)
	case len(raw.ApplicationID) > maxFieldBytes || !logging.Printable(raw.ApplicationID):
		return nil, fmt.Errorf("%w: applicationId invalid", ErrMalformed)
	case raw.SessionID == "":
		return nil, fmt.Errorf("%w: sessionId missing", ErrMalformed)
	case raw.Timestamp == nil:
		return nil, fmt.Errorf("%w: timestamp missing", ErrMalformed)
	case *raw.Timestamp <= 0 || *raw.Timestamp > 253402300799: // up to 9999-12-31
		return nil, fmt.Errorf("%w: timestamp out of range", ErrMalformed)
	case len(raw.IdentityID) > maxFieldBytes || !logging.Printable(raw.IdentityID):
		return nil, fmt.Errorf("%w: identityId invalid", ErrMalformed)
	case len(raw.ProofURL) > maxProofURLBytes || !logging.Printable(raw.ProofURL):
		return nil, fmt.Errorf("%w: proofUrl invalid", ErrMalformed)
	case raw.Status != nil && (len(*raw.Status) > maxFieldBytes || !logging.Printable(*raw.Status)):
		return nil, fmt.Errorf("%w: status invalid", ErrMalformed)
	}
	var ok bool
	if cb.SessionID, ok = canonicalUUID(raw.SessionID); !ok {
		return nil, fmt.Errorf("%w: sessionId is not a UUID", ErrMalformed)
	}
	sec, frac := math.Modf(*raw.Timestamp)
	cb.Timestamp = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	switch {
	case raw.Status == nil:
		cb.Status = store.IPACompleted
	case *raw.Status == "ERROR":
		cb.Status = store.IPAError
	case *raw.Status == "HEARTBEAT_TIMEOUT":
		cb.Status = store.IPATimeout
	default:
		cb.Status, cb.Detail = store.IPAError, *raw.Status
		slog.Warn("IDEMIA notification with an undocumented status: the session ends in error", "sessionId", cb.SessionID,
			"status", cb.Detail)
	}
	return cb, nil
}

// CheckCallback reports whether cb belongs to s, the session its callback token named: the sessionIds must be
// equal and, when IPA_APPLICATION_ID is configured, so must the applicationId. Otherwise the error wraps
// ErrForbidden.
func (c *Client) CheckCallback(cb *Callback, s *store.IPASession) error {
	if cb == nil || s == nil {
		return fmt.Errorf("%w: no callback or session", ErrForbidden)
	}
	if id, ok := canonicalUUID(s.ID); !ok || id != cb.SessionID {
		return fmt.Errorf("%w: sessionId does not match the callback token's session", ErrForbidden)
	}
	if c.applicationID != "" {
		want := sha256.Sum256([]byte(c.applicationID))
		got := sha256.Sum256([]byte(cb.ApplicationID))
		if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
			return fmt.Errorf("%w: applicationId is not IPA_APPLICATION_ID", ErrForbidden)
		}
	}
	return nil
}
