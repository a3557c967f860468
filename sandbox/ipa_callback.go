package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// IPAOutcome is how an IPA journey ends, as told by the end-of-process callback.
type IPAOutcome string

// IPA outcomes. IPACompleted creates an identity in the GIPS fake; the others carry IDEMIA's status.
const (
	IPACompleted        IPAOutcome = ""
	IPAError            IPAOutcome = "ERROR"
	IPAHeartbeatTimeout IPAOutcome = "HEARTBEAT_TIMEOUT"
)

// IPAIdentityStatus and IPALevelOfAssurance describe the identities created by completed journeys.
const (
	IPAIdentityStatus   = "VERIFIED"
	IPALevelOfAssurance = "LOA2"
)

// Callback returns the end-of-process notification for session sessionID, in the documented shape. A
// completed one creates the identity in the GIPS fake (see SetGIPS) and points proofUrl at it.
func (p *IPA) Callback(sessionID string, outcome IPAOutcome) ([]byte, error) {
	p.mu.Lock()
	_, ok := p.sessions[sessionID]
	g, gipsURL := p.gips, p.gipsURL
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("sandbox: no IPA session %q", sessionID)
	}
	n := map[string]any{
		"applicationId": p.applicationID,
		"sessionId":     sessionID,
		"timestamp":     float64(time.Now().UnixMicro()) / 1e6,
	}
	switch outcome {
	case IPACompleted:
		if g == nil {
			return nil, errors.New("sandbox: a completed IPA callback needs a GIPS fake (SetGIPS)")
		}
		id := g.AddIdentity(IPAIdentityStatus, IPALevelOfAssurance)
		n["identityId"] = id
		n["proofUrl"] = gipsURL + "/gips/v1/identities/" + id + "/proof"
	case IPAError, IPAHeartbeatTimeout:
		n["status"] = string(outcome)
	default:
		return nil, fmt.Errorf("sandbox: unknown IPA outcome %q", outcome)
	}
	return json.Marshal(n)
}

// DeliverCallback POSTs the end-of-process notification of session sessionID (see Callback) to the
// callbackUrl the session was created with, retrying as configured by SetRetry. It returns the HTTP status of
// the last answer (0 when none came) and the error of the last attempt, if it got no answer.
func (p *IPA) DeliverCallback(ctx context.Context, sessionID string, outcome IPAOutcome) (int, error) {
	body, err := p.Callback(sessionID, outcome)
	if err != nil {
		return 0, err
	}
	return p.Deliver(ctx, sessionID, body)
}

// Deliver POSTs body, as is, to the callbackUrl of session sessionID, retrying as configured by SetRetry; tests
// use it to send altered notifications. It returns what DeliverCallback returns.
func (p *IPA) Deliver(ctx context.Context, sessionID string, body []byte) (int, error) {
	p.mu.Lock()
	s, ok := p.sessions[sessionID]
	hc, retries, pause := p.client, p.retries, p.retryPause
	p.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("sandbox: no IPA session %q", sessionID)
	}
	if s.CallbackURL == "" {
		return 0, fmt.Errorf("sandbox: IPA session %q has no callbackUrl", sessionID)
	}
	var (
		status int
		err    error
	)
	for attempt := 0; ; attempt++ {
		status, err = p.post(ctx, hc, s.CallbackURL, body)
		if (err == nil && status >= 200 && status <= 299) || attempt >= retries {
			return status, err
		}
		select {
		case <-ctx.Done():
			return status, errors.Join(err, ctx.Err())
		case <-time.After(pause):
		}
	}
}

// post makes one delivery attempt.
func (p *IPA) post(ctx context.Context, hc *http.Client, url string, body []byte) (int, error) {
	p.mu.Lock()
	p.attempts++
	p.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("sandbox: IPA callback: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sandbox: IPA callback: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// CallbackAttempts returns how many callback deliveries were attempted, retries included.
func (p *IPA) CallbackAttempts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts
}
