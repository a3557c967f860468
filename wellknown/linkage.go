package wellknown

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Contexts of did-configuration.json accepted by CheckLinkage.
const (
	// ContextV0 is the context Microsoft Entra emits.
	ContextV0 = "https://identity.foundation/.well-known/contexts/did-configuration-v0.0.jsonld"
	// ContextV1 is the context of the current DIF specification.
	ContextV1 = "https://identity.foundation/.well-known/did-configuration/v1"
)

// Linkage is the input of CheckLinkage.
type Linkage struct {
	// DIDDocument is did.json; its id is the DID whose linkage is checked.
	DIDDocument []byte
	// Configuration is did-configuration.json.
	Configuration []byte
	// PublicURL is VERIFIER_PUBLIC_URL; its origin must be the credentials' origin.
	PublicURL string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// LinkageResult summarises a did-configuration.json check.
type LinkageResult struct {
	// DID is the DID checked: did.json's id.
	DID string
	// Valid counts the linked_dids entries that verified for DID.
	Valid int
	// Others lists the (unverified) DIDs of entries signed for other DIDs,
	// which a domain hosting several DIDs may carry; they are not checked.
	Others []string
	// Warnings say, one per entry, why an entry was not used beside a valid
	// one (a JSON-LD credential, another DID's JWT, an invalid or expired
	// JWT): entries are independent (DIF Well Known DID Configuration), so
	// they do not fail the check.
	Warnings []string
}

// CheckLinkage validates every Domain Linkage Credential (compact JWT) of
// did-configuration.json against did.json: the key named by the header kid
// must be an assertionMethod key of did.json, the signature must verify with
// the algorithm pinned by that key, iss, sub and vc.credentialSubject.id must
// be the DID, vc.credentialSubject.origin the public URL's origin, and
// nbf ≤ now < exp. Entries are independent: beside a valid one, the others are
// reported in the result's Warnings; without one, the error says why for each
// entry. File-level problems (no linked_dids, an unknown @context) always fail.
// It returns every problem at once (errors.Join), each saying what is wrong and
// how to fix it.
func CheckLinkage(l Linkage) (LinkageResult, error) {
	doc, err := parseDIDDocument(l.DIDDocument)
	if err != nil {
		return LinkageResult{}, err
	}
	res := LinkageResult{DID: doc.ID}
	u, err := parseWebURL(l.PublicURL)
	if err != nil {
		return res, err
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	v := tokenCheck{doc: doc, origin: originOf(u), now: now}

	var cfg struct {
		Context    json.RawMessage  `json:"@context"`
		LinkedDIDs *json.RawMessage `json:"linked_dids"`
	}
	if err := json.Unmarshal(l.Configuration, &cfg); err != nil {
		return res, fmt.Errorf("did-configuration.json is not a JSON object: %w: publish the file Entra generated", err)
	}
	var errs, unused []error
	if err := checkContext(cfg.Context); err != nil {
		errs = append(errs, err)
	}
	var entries []json.RawMessage
	if cfg.LinkedDIDs == nil || json.Unmarshal(*cfg.LinkedDIDs, &entries) != nil {
		errs = append(errs, errors.New("did-configuration.json has no linked_dids array: publish the file Entra generated"))
	}
	for i, raw := range entries {
		var token string
		if err := json.Unmarshal(raw, &token); err != nil {
			unused = append(unused, fmt.Errorf("linked_dids[%d] is not a JWT string (a JSON-LD credential?): not used, "+
				"only the JWT form is checked (Entra generates it)", i))
			continue
		}
		other, problems := v.check(token)
		switch {
		case len(problems) > 0:
			for _, err := range problems {
				unused = append(unused, fmt.Errorf("linked_dids[%d]: %w", i, err))
			}
		case other != "":
			if !slices.Contains(res.Others, other) {
				res.Others = append(res.Others, other)
			}
			unused = append(unused, fmt.Errorf("linked_dids[%d] is for another DID, %s: not checked", i, other))
		default:
			res.Valid++
		}
	}
	if res.Valid > 0 {
		for _, err := range unused {
			res.Warnings = append(res.Warnings, err.Error())
		}
		return res, errors.Join(errs...)
	}
	for _, err := range unused {
		if !strings.Contains(err.Error(), "is for another DID") { // said once below
			errs = append(errs, err)
		}
	}
	found := ""
	if len(res.Others) > 0 {
		found = fmt.Sprintf(" (it holds entries for %s only)", strings.Join(res.Others, ", "))
	}
	errs = append(errs, fmt.Errorf("did-configuration.json has no valid linked_dids entry for %q%s: "+
		"generate it for origin %s (Entra: Verified ID, Setup, Verify domain) and publish it", doc.ID, found, v.origin))
	return res, errors.Join(errs...)
}

// checkContext accepts the v0.0 or v1 context, as a string or in an array.
func checkContext(raw json.RawMessage) error {
	const fix = "use " + ContextV0 + " (as Entra generates) or " + ContextV1
	if len(raw) == 0 {
		return fmt.Errorf("did-configuration.json has no @context: %s", fix)
	}
	var list []string
	var one string
	var items []json.RawMessage
	switch {
	case json.Unmarshal(raw, &one) == nil:
		list = []string{one}
	case json.Unmarshal(raw, &items) == nil:
		for _, item := range items {
			if json.Unmarshal(item, &one) == nil {
				list = append(list, one)
			}
		}
	default:
		return fmt.Errorf("did-configuration.json @context is neither a string nor an array: %s", fix)
	}
	if slices.Contains(list, ContextV0) || slices.Contains(list, ContextV1) {
		return nil
	}
	return fmt.Errorf("did-configuration.json @context %q is unknown: %s", list, fix)
}
