package ipa

import (
	"net/http"

	"github.com/entra-verifier/entra-verifier/config"
)

// NewClient returns the Client for the IPA half's settings; hc makes every call (its roots and timeouts).
func NewClient(cfg config.IPA, hc *http.Client) (*Client, error) {
	return New(Config{
		CognitoURL: cfg.CognitoURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		CreateSessionURL: cfg.CreateSessionURL, ApplicationID: cfg.ApplicationID,
		IDVURL: cfg.IDVURL, GIPSAPIKey: cfg.GIPSAPIKey, HTTPClient: hc,
	})
}
