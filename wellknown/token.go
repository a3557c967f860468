package wellknown

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
)

// regenerate is the usual fix for a credential that is wrong.
const regenerate = "regenerate did-configuration.json with Entra and publish it"

// tokenCheck validates Domain Linkage Credentials of one DID and origin.
type tokenCheck struct {
	doc    *didDocument
	origin string
	now    time.Time
}

// header is the protected JOSE header of a Domain Linkage Credential.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// claims are the payload members the check relies on.
type claims struct {
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Nbf *float64 `json:"nbf"`
	Exp *float64 `json:"exp"`
	VC  struct {
		CredentialSubject struct {
			ID     string `json:"id"`
			Origin string `json:"origin"`
		} `json:"credentialSubject"`
	} `json:"vc"`
}

// check validates one compact JWT, returning every problem. When the token
// is signed for another DID (its kid and iss name another DID), it returns
// that DID and no problem.
func (c tokenCheck) check(token string) (other string, problems []error) {
	other, cl, err := c.verify(token)
	if err != nil {
		return "", []error{err}
	}
	if other != "" {
		return other, nil
	}
	return "", c.checkClaims(cl)
}

// verify checks the header and the signature of token and returns its claims.
func (c tokenCheck) verify(token string) (other string, cl *claims, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", nil, fmt.Errorf("not a compact JWT (header.payload.signature): %s", regenerate)
	}
	var h header
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err == nil {
		err = json.Unmarshal(hb, &h)
	}
	if err != nil {
		return "", nil, fmt.Errorf("header is not base64url JSON with string alg and kid: %w: %s", err, regenerate)
	}
	switch {
	case h.Alg == "":
		return "", nil, fmt.Errorf("header has no alg: %s", regenerate)
	case strings.EqualFold(h.Alg, "none"):
		return "", nil, fmt.Errorf("alg %q is refused: an unsigned token proves nothing: %s", h.Alg, regenerate)
	case strings.HasPrefix(strings.ToUpper(h.Alg), "HS"):
		return "", nil, fmt.Errorf("alg %q is refused: a shared-secret MAC cannot prove control of a DID: %s", h.Alg, regenerate)
	case h.Kid == "":
		return "", nil, fmt.Errorf("header has no kid: %s", regenerate)
	}
	kid := absolute(c.doc.ID, h.Kid)
	if did, _, _ := strings.Cut(kid, "#"); did != c.doc.ID {
		if iss := unverifiedIssuer(parts[1]); iss != c.doc.ID {
			return did, nil, nil
		}
		return "", nil, fmt.Errorf("kid %q names a key of another DID than %q: %s", kid, c.doc.ID, regenerate)
	}
	key, err := c.doc.assertionKeyFor(kid)
	if err != nil {
		return "", nil, err
	}
	if h.Alg != key.alg.String() {
		return "", nil, fmt.Errorf("alg %q is not %s, the only algorithm of key %q (the token never chooses it): %s",
			h.Alg, key.alg, kid, regenerate)
	}
	payload, err := jws.Verify([]byte(token), jws.WithKey(key.alg, key.key), jws.WithCompact(),
		jws.WithAlgorithmMatch(true), jws.WithValidateKey(true))
	if err != nil {
		return "", nil, &quietError{
			msg: fmt.Sprintf("signature does not verify with key %q (%s): %s with the DID's current key", kid, key.alg, regenerate),
			err: err,
		}
	}
	cl = &claims{}
	if err := json.Unmarshal(payload, cl); err != nil {
		return "", nil, fmt.Errorf("payload is not a Domain Linkage Credential: %w: %s", err, regenerate)
	}
	return "", cl, nil
}

// quietError says msg and keeps err, a library's verbose cause, for errors.Is/As only.
type quietError struct {
	msg string
	err error
}

func (e *quietError) Error() string { return e.msg }
func (e *quietError) Unwrap() error { return e.err }

// checkClaims checks the verified claims, returning every problem.
func (c tokenCheck) checkClaims(cl *claims) []error {
	var errs []error
	for _, f := range []struct{ name, value string }{
		{"iss", cl.Iss},
		{"sub", cl.Sub},
		{"vc.credentialSubject.id", cl.VC.CredentialSubject.ID},
	} {
		if f.value != c.doc.ID {
			errs = append(errs, fmt.Errorf("%s %q is not the DID %q of did.json: the credential was issued for another DID: "+
				"regenerate did-configuration.json for %s and publish it", f.name, f.value, c.doc.ID, c.doc.ID))
		}
	}
	switch origin, err := parseOrigin(cl.VC.CredentialSubject.Origin); {
	case cl.VC.CredentialSubject.Origin == "":
		errs = append(errs, fmt.Errorf("vc.credentialSubject.origin is missing: regenerate did-configuration.json for domain %s/", c.origin))
	case err != nil:
		errs = append(errs, fmt.Errorf("vc.credentialSubject.origin %w: regenerate did-configuration.json for domain %s/", err, c.origin))
	case origin != c.origin:
		errs = append(errs, fmt.Errorf("vc.credentialSubject.origin %q is not %s, the origin of VERIFIER_PUBLIC_URL: "+
			"regenerate did-configuration.json for domain %s/ (or fix VERIFIER_PUBLIC_URL)", cl.VC.CredentialSubject.Origin, c.origin, c.origin))
	}
	nbf, err := numericDate("nbf", cl.Nbf)
	if err != nil {
		errs = append(errs, err)
	} else if c.now.Before(nbf) {
		errs = append(errs, fmt.Errorf("not valid before %s (nbf), now is %s: check this machine's clock, or wait",
			nbf.Format(time.RFC3339), c.now.UTC().Format(time.RFC3339)))
	}
	exp, err := numericDate("exp", cl.Exp)
	if err != nil {
		errs = append(errs, err)
	} else if !c.now.Before(exp) {
		errs = append(errs, fmt.Errorf("expired at %s (exp), now is %s: %s",
			exp.Format(time.RFC3339), c.now.UTC().Format(time.RFC3339), regenerate))
	}
	return errs
}

// maxNumericDate is 9999-12-31T23:59:59Z: later values are not dates.
const maxNumericDate = 253402300799

// numericDate converts a JWT NumericDate claim (seconds since the epoch) to a time.
func numericDate(name string, v *float64) (time.Time, error) {
	if v == nil {
		return time.Time{}, fmt.Errorf("has no %s claim: %s", name, regenerate)
	}
	if math.IsNaN(*v) || *v < 0 || *v > maxNumericDate {
		return time.Time{}, fmt.Errorf("%s %v is not a date: %s", name, *v, regenerate)
	}
	sec, frac := math.Modf(*v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// unverifiedIssuer returns the iss of an unverified payload, or "".
func unverifiedIssuer(payload string) string {
	var cl struct {
		Iss string `json:"iss"`
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(b, &cl) != nil {
		return ""
	}
	return cl.Iss
}
