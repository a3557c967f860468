package config

import (
	"regexp"
	"slices"
	"strings"
)

// stagePattern is the form of VERIFIER_IDEMIA_STAGE.
var stagePattern = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

// didPattern is the form accepted in VERIFIER_ACCEPTED_ISSUERS: did:<method>:<method-specific id>, the id made of
// DID idchars (letters, digits, . - _ and %-escapes) with : separating its segments, not ending in :.
var didPattern = regexp.MustCompile(`^did:[a-z0-9]+:[A-Za-z0-9._%-]+(:[A-Za-z0-9._%-]+)*$`)

// RegionDID returns the DID from which IDEMIA's platform in region issues VerifiedIdentity credentials:
// did:web:{region}.did.idemia.io in production, did:web:{region}.did-{stage}.idemia.io on a lower stage.
// ok is false for a region IDEMIA does not run.
func RegionDID(region, stage string) (did string, ok bool) {
	if _, ok := Regions[region]; !ok {
		return "", false
	}
	if stage == "" {
		return Regions[region], true
	}
	return "did:web:" + region + ".did-" + stage + ".idemia.io", true
}

// AcceptedIssuers returns the DIDs trusted to issue VerifiedIdentity credentials: VERIFIER_ACCEPTED_ISSUERS
// when set, otherwise the DID of every accepted region (on VERIFIER_IDEMIA_STAGE when set). The same list
// goes into acceptedIssuers of every presentation request and into our own issuer check.
func (c *Config) AcceptedIssuers() []string {
	if len(c.Issuers) > 0 {
		return slices.Clone(c.Issuers)
	}
	out := make([]string, 0, len(c.AcceptedRegions))
	for _, r := range c.AcceptedRegions {
		if did, ok := RegionDID(r, c.IDEMIAStage); ok {
			out = append(out, did)
		}
	}
	return out
}

// IssuersSource says where AcceptedIssuers comes from, for `verifier check` and the start-up log.
func (c *Config) IssuersSource() string {
	if len(c.Issuers) > 0 {
		return "VERIFIER_ACCEPTED_ISSUERS"
	}
	s := "VERIFIER_ACCEPTED_REGIONS " + strings.Join(c.AcceptedRegions, ",")
	if c.IDEMIAStage != "" {
		return s + " on IDEMIA stage " + c.IDEMIAStage + " (VERIFIER_IDEMIA_STAGE)"
	}
	return s + " on IDEMIA production"
}

// issuers checks the stage and the explicit issuer list.
func (v *validator) issuers(c *Config) {
	if c.IDEMIAStage != "" && !stagePattern.MatchString(c.IDEMIAStage) {
		v.addf("VERIFIER_IDEMIA_STAGE", "must be 1 to 16 lower-case letters or digits (e.g. stg), got %q", c.IDEMIAStage)
	}
	for _, did := range c.Issuers {
		if !didPattern.MatchString(did) {
			v.addf("VERIFIER_ACCEPTED_ISSUERS", "%q is not a DID (did:<method>:<id>, e.g. did:web:us.did.idemia.io)", did)
		}
	}
}
