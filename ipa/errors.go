package ipa

import (
	"errors"
	"fmt"
)

var (
	// ErrUpstream marks a failure of an IDEMIA service: transport error, timeout, non-2xx status or an
	// unusable answer. The web layer answers 502; UpstreamError carries the details for the log.
	ErrUpstream = errors.New("ipa: upstream error")
	// ErrMalformed marks a callback body that is not the documented notification (the web layer answers 400).
	ErrMalformed = errors.New("ipa: malformed callback")
	// ErrForbidden marks a callback that does not belong to the session its token names, or comes from
	// another IPA application (the web layer answers 403).
	ErrForbidden = errors.New("ipa: forbidden callback")
	// ErrProofRefused marks a proofUrl that is not on the configured ID&V host; no request was made.
	ErrProofRefused = errors.New("ipa: proofUrl refused")
	// ErrDisabled is returned by identity retrieval calls when IDV_URL or GIPS_RS_API_KEY is not set.
	ErrDisabled = errors.New("ipa: identity retrieval not configured")
)

// UpstreamError is a failed call to IDEMIA. It matches ErrUpstream with errors.Is; Err is the cause,
// for the operator log only.
type UpstreamError struct {
	// Op names the call: "token", "create session", "identity" or "proof".
	Op string
	// StatusCode is the HTTP status IDEMIA answered, 0 when no answer arrived.
	StatusCode int
	Err        error
}

// Error describes the failure without any response body.
func (e *UpstreamError) Error() string {
	switch {
	case e.StatusCode != 0 && e.Err != nil:
		return fmt.Sprintf("ipa: %s: status %d: %v", e.Op, e.StatusCode, e.Err)
	case e.StatusCode != 0:
		return fmt.Sprintf("ipa: %s: status %d", e.Op, e.StatusCode)
	default:
		return fmt.Sprintf("ipa: %s: %v", e.Op, e.Err)
	}
}

// Unwrap returns the cause.
func (e *UpstreamError) Unwrap() error { return e.Err }

// Is reports whether target is ErrUpstream.
func (e *UpstreamError) Is(target error) bool { return target == ErrUpstream }
