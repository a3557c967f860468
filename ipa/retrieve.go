package ipa

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/entra-verifier/entra-verifier/store"
)

// Retrieve reads the identity a completed callback names, once, for its level of assurance and status. It never
// fetches the proof archive (IDEMIA may close the transaction once its proof is fetched; see OpenProof). It
// returns the summary to keep with the session, or nil when retrieval is off or cb is not a completed callback
// naming an identity. A failure is reported in the summary's Error as a short code (such as
// "identity_http_404"), never as personal data.
func (c *Client) Retrieve(ctx context.Context, cb *Callback) *store.IdentitySummary {
	if !c.RetrievalEnabled() || cb == nil || cb.Status != store.IPACompleted || cb.IdentityID == "" {
		return nil
	}
	var sum store.IdentitySummary
	id, err := c.Identity(ctx, cb.IdentityID)
	if err != nil {
		sum.Error = reason("identity", err)
	} else {
		sum.LevelOfAssurance, sum.Status = id.LevelOfAssurance, id.Status
	}
	return &sum
}

// reason turns a retrieval error into a short, non-personal code.
func reason(op string, err error) string {
	var ue *UpstreamError
	switch {
	case errors.Is(err, ErrProofRefused):
		return "proof_refused"
	case errors.Is(err, errIdentityID):
		return "identity_id_invalid"
	case !errors.As(err, &ue):
		return op + "_failed"
	case ue.StatusCode == 0:
		return op + "_unreachable"
	case ue.StatusCode < 200 || ue.StatusCode > 299:
		return fmt.Sprintf("%s_http_%d", op, ue.StatusCode)
	default:
		return op + "_invalid_answer"
	}
}

// send makes a GET with the apikey header through the client that never follows redirects; any answer but
// 2xx (a 3xx included) is an UpstreamError.
func (c *Client) send(ctx context.Context, op string, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("ipa: %s: %w", op, err)
	}
	req.Header.Set("apikey", c.apiKey)
	resp, err := c.idv.Do(req)
	if err != nil {
		// Keep the cause but not the URL, which names the identity.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, &UpstreamError{Op: op, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, &UpstreamError{Op: op, StatusCode: resp.StatusCode}
	}
	return resp, nil
}

// get returns the body of a successful GET, at most limit bytes.
func (c *Client) get(ctx context.Context, op string, u *url.URL, limit int64) ([]byte, error) {
	resp, err := c.send(ctx, op, u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := readLimited(resp.Body, limit)
	if err != nil {
		return nil, &UpstreamError{Op: op, StatusCode: resp.StatusCode, Err: err}
	}
	return data, nil
}
