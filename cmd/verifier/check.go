package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

// checkResult is one check of `verifier check`: one ok line, or one FAIL line per problem.
type checkResult struct {
	name     string
	ok       string   // what passed, when err is nil
	err      error    // each error errors.Join joined is a line of its own
	raw      error    // the upstream error in full, printed under -v only
	warnings []string // what the check did not use, printed on warn: lines; they fail nothing
}

// check runs every pre-flight check and prints one line per check, or per problem; with verbose, an upstream
// failure's raw error follows its summary. It returns the exit status.
func check(ctx context.Context, getenv config.Getenv, out io.Writer, verbose bool) int {
	cfg := config.Load(getenv)
	descriptors, loadErr := wellknown.Load(cfg.WellKnown.DIDJSON, cfg.WellKnown.DIDConfigurationJSON)
	results := []checkResult{{name: "configuration", ok: "complete and valid", err: cfg.Validate()}}
	if cfg.Sandbox { // as --sandbox: there is nothing real to check against the simulators
		const refused = "VERIFIER_SANDBOX=true applies to serve only (check tests the real Microsoft and IDEMIA): unset it"
		results[0].err = errors.Join(errors.New(refused), results[0].err)
	}
	if loadErr != nil {
		results = append(results, checkResult{name: "descriptors", err: loadErr})
	} else if results[0].err == nil {
		results = append(results, descriptorChecks(cfg, descriptors)...)
	}
	if results[0].err == nil {
		results = append(results, settingLines(cfg)...)
	}
	if results[0].err == nil {
		hc := &http.Client{Timeout: 15 * time.Second}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if cfg.Entra.Enabled() {
			results = append(results, entraTokenCheck(ctx, cfg, hc))
		}
		if cfg.IPA.Enabled() {
			results = append(results, ipaTokenCheck(ctx, cfg, hc))
		}
	}
	problems := 0
	for _, r := range results {
		for _, w := range r.warnings {
			printf(out, "%-22s warn: %s\n", r.name, oneLine(w))
		}
		if r.err == nil {
			printf(out, "%-22s ok: %s\n", r.name, r.ok)
			continue
		}
		for _, e := range splitJoined(r.err) {
			problems++
			printf(out, "%-22s FAIL: %s\n", r.name, oneLine(logging.URLs(e.Error())))
		}
		if verbose && r.raw != nil {
			for _, l := range strings.Split(strings.TrimSpace(logging.URLs(r.raw.Error())), "\n") {
				printf(out, "%-22s   | %s\n", "", l)
			}
		}
	}
	if problems == 0 {
		return 0
	}
	printf(out, "\n%d problem(s): fix each as its line says, then run `verifier check` again.\n", problems)
	if results[0].err != nil {
		printf(out, "Every setting is listed in README.md, \"Configuration\"; no accounts yet? `verifier serve --sandbox` runs the journey locally.\n")
	} else if !verbose && hasRaw(results) {
		printf(out, "`verifier check -v` prints Microsoft's and IDEMIA's answers in full.\n")
	}
	return 1
}

// splitJoined returns the errors errors.Join joined, or err alone.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func hasRaw(results []checkResult) bool {
	for _, r := range results {
		if r.err != nil && r.raw != nil {
			return true
		}
	}
	return false
}

// descriptorChecks checks did.json's id against our host and DID, then the domain linkage.
func descriptorChecks(cfg *config.Config, d *wellknown.Descriptors) []checkResult {
	if d == nil || cfg.PublicURL == nil {
		return nil
	}
	public := cfg.PublicURL.String()
	status, err := wellknown.CheckDID(d.DIDDocument, public, cfg.Entra.VerifierDID)
	ok := status.String()
	if status == wellknown.DIDServed {
		ok += " " + d.ID + " at " + d.DIDPath()
	}
	results := []checkResult{{name: "did.json", ok: ok, err: err}}
	if err != nil || status != wellknown.DIDServed {
		return results
	}
	if d.Configuration == nil {
		return append(results, checkResult{name: "domain linkage", err: errors.New(
			"did.json is served but WELLKNOWN_DID_CONFIGURATION_JSON is not set: wallets cannot verify the domain; " +
				"set it to the did-configuration.json Entra generated for this domain")})
	}
	res, err := wellknown.CheckLinkage(wellknown.Linkage{DIDDocument: d.DIDDocument, Configuration: d.Configuration, PublicURL: public})
	ok = fmt.Sprintf("%d linked DID credential(s) verify for %s", res.Valid, res.DID)
	return append(results, checkResult{name: "domain linkage", ok: ok, err: err, warnings: res.Warnings})
}

// settingLines says which go-live settings are in force: the issuers sent in acceptedIssuers and checked, the
// IDEMIA stage, the Entra credential form and validateLinkedDomain. They pass whenever the configuration is
// valid: they are there to be read.
func settingLines(cfg *config.Config) []checkResult {
	stage := "production (did:web:{region}.did.idemia.io)"
	if cfg.IDEMIAStage != "" {
		stage = cfg.IDEMIAStage + " (did:web:{region}.did-" + cfg.IDEMIAStage + ".idemia.io)"
		if len(cfg.Issuers) > 0 {
			stage += ", not used for the issuers: VERIFIER_ACCEPTED_ISSUERS is set"
		}
	}
	results := []checkResult{{name: "IDEMIA stage", ok: stage}}
	if !cfg.Entra.Enabled() {
		return results
	}
	credential := cfg.Entra.CredentialForm()
	switch credential {
	case config.CredentialAssertionFile:
		credential += " " + cfg.Entra.ClientAssertionFile + " (federated client assertion, read at every token request)"
	case config.CredentialCertificate:
		credential += " (ENTRA_CLIENT_CERTIFICATE)"
	case config.CredentialSecret:
		credential += " (ENTRA_CLIENT_SECRET; on Kubernetes prefer workload identity's assertion file)"
	}
	linked := "on"
	if !cfg.Entra.ValidateLinkedDomain {
		linked = "off (ENTRA_VALIDATE_LINKED_DOMAIN=false: Microsoft does not check the issuer's linked domain)"
	}
	return append(results,
		checkResult{name: "accepted issuers", ok: strings.Join(cfg.AcceptedIssuers(), ", ") + " (from " + cfg.IssuersSource() + ")"},
		checkResult{name: "Entra credential", ok: credential},
		checkResult{name: "validateLinkedDomain", ok: linked})
}

// entraTokenCheck acquires a Request Service token and checks it carries a role that allows presentations.
func entraTokenCheck(ctx context.Context, cfg *config.Config, hc *http.Client) checkResult {
	r := checkResult{name: "Microsoft Entra token"}
	tokens, err := verifier.NewTokenSource(cfg.Entra, hc)
	if err != nil {
		r.err = err
		return r
	}
	token, err := tokens.Token(ctx)
	if err != nil {
		r.err, r.raw = describeMicrosoft(err), err
		return r
	}
	roles, err := verifier.CheckRoles(token)
	r.ok, r.err = "acquired, roles "+strings.Join(roles, ", "), err
	return r
}

// ipaTokenCheck acquires an IDEMIA Cognito token.
func ipaTokenCheck(ctx context.Context, cfg *config.Config, hc *http.Client) checkResult {
	r := checkResult{name: "IDEMIA token", ok: "acquired"}
	client, err := ipa.NewClient(cfg.IPA, hc)
	if err != nil {
		r.err = err
		return r
	}
	if err := client.CheckToken(ctx); err != nil {
		r.err, r.raw = describeIDEMIA(err), err
	}
	return r
}
