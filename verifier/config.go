package verifier

import (
	"net/http"

	"github.com/entra-verifier/entra-verifier/config"
)

// NewClient returns the Request Service Client for the presentation half's settings, with its MSAL token
// source; hc makes every call (its roots and timeouts). It makes no request.
func NewClient(cfg config.Entra, hc *http.Client) (*Client, error) {
	tokens, err := NewTokenSource(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &Client{BaseURL: cfg.RequestServiceURL, HTTP: hc, Tokens: tokens}, nil
}
