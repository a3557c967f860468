package main

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

// realCredentials are the settings whose presence means a real tenant or application is configured: the
// sandbox refuses to run beside them, so it can never send a real secret to a simulator or vice versa.
var realCredentials = []string{"ENTRA_CLIENT_SECRET", "ENTRA_CLIENT_CERTIFICATE", "IPA_CLIENT_SECRET", "GIPS_RS_API_KEY"}

// sandboxDefaults are used unless the environment says otherwise.
var sandboxDefaults = map[string]string{
	"VERIFIER_LISTEN_ADDR": "127.0.0.1:8080",
	"ENTRA_CLIENT_NAME":    "entra-verifier",
	"ENTRA_PURPOSE":        "Open your account with a verified identity",
	"ENTRA_FACE_CHECK":     "true",
}

// startSandbox starts the simulators and returns the configuration lookup that points the verifier at
// them: the simulators' own settings first, then the environment, then the sandbox defaults.
func startSandbox(env config.Getenv) (*sandbox.Sandbox, config.Getenv, error) {
	var real []string
	for _, name := range realCredentials {
		if env(name) != "" {
			real = append(real, name)
		}
	}
	if len(real) > 0 {
		return nil, nil, errors.New("sandbox refuses to start while real credentials are configured (" + strings.Join(real, ", ") +
			"): unset them, or run without --sandbox")
	}
	var withDefaults func(name string) string
	withDefaults = func(name string) string {
		if v := env(name); v != "" {
			return v
		}
		if name == "VERIFIER_PUBLIC_URL" {
			return "http://" + withDefaults("VERIFIER_LISTEN_ADDR")
		}
		return sandboxDefaults[name]
	}
	// The simulated credential comes from the first accepted issuer: a stage DID with VERIFIER_IDEMIA_STAGE,
	// the operator's DID with VERIFIER_ACCEPTED_ISSUERS, so the sandbox rehearses what production will accept.
	issuer := config.Regions["us"]
	if accepted := config.Load(withDefaults).AcceptedIssuers(); len(accepted) > 0 {
		issuer = accepted[0]
	}
	sb, err := sandbox.Start(sandbox.Options{PublicURL: strings.TrimSuffix(withDefaults("VERIFIER_PUBLIC_URL"), "/"), IssuerDID: issuer})
	if err != nil {
		return nil, nil, fmt.Errorf("start sandbox: %w", err)
	}
	settings := maps.Clone(sb.Settings())
	settings["VERIFIER_SANDBOX"] = "true" // --sandbox and the variable are one setting, logged as such
	return sb, func(name string) string {
		switch {
		case name == "VERIFIER_API_KEYS" && env(name) != "": // the operator's own keys work beside the console's
			return env(name) + "," + settings[name]
		case (name == "VERIFIER_RESULT_WEBHOOK_URL" || name == "VERIFIER_RESULT_WEBHOOK_SECRET") && env("VERIFIER_RESULT_WEBHOOK_URL") != "":
			return env(name) // the operator's own receiver, instead of the console's
		}
		if v, ok := settings[name]; ok {
			return v
		}
		return withDefaults(name)
	}, nil
}
