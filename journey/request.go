package journey

import (
	"errors"
	"fmt"
	"slices"

	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/store"
)

// MaxCreateBody bounds the body of POST /api/backend/journeys.
const MaxCreateBody = 16 << 10

// maxExpectedClaims bounds a journey's expected claims.
const maxExpectedClaims = 8

// CreateRequest is the body of POST /api/backend/journeys.
type CreateRequest struct {
	Reference      string            `json:"reference"`
	Steps          []string          `json:"steps"`
	ExpectedClaims map[string]string `json:"expectedClaims"`
	ReturnURL      string            `json:"returnUrl"`
	Locale         string            `json:"locale"`
}

// Halves says which halves are on, for the steps' check.
type Halves struct{ IPA, Presentation bool }

// Validate returns every problem of r at once; steps are checked against the halves that are on. The
// return URL is checked by the caller (the allow-list lives with the hand-off).
func (r *CreateRequest) Validate(on Halves) error {
	var errs []error
	if n := len(r.Reference); n < 1 || n > 128 || !logging.Printable(r.Reference) {
		errs = append(errs, errors.New("reference: 1 to 128 printable ASCII characters"))
	}
	if r.Steps != nil {
		ok := slices.Equal(r.Steps, []string{store.StepIPA, store.StepPresentation}) ||
			slices.Equal(r.Steps, []string{store.StepIPA}) || slices.Equal(r.Steps, []string{store.StepPresentation})
		if !ok {
			errs = append(errs, errors.New(`steps: ["ipa", "presentation"], ["ipa"] or ["presentation"]`))
		}
		if slices.Contains(r.Steps, store.StepIPA) && !on.IPA {
			errs = append(errs, errors.New("steps: the IPA half is not configured"))
		}
		if slices.Contains(r.Steps, store.StepPresentation) && !on.Presentation {
			errs = append(errs, errors.New("steps: the presentation half is not configured"))
		}
	}
	if len(r.ExpectedClaims) > maxExpectedClaims {
		errs = append(errs, fmt.Errorf("expectedClaims: at most %d", maxExpectedClaims))
	}
	for name, v := range r.ExpectedClaims {
		if name == "" || len(name) > 64 || !logging.Printable(name) || len(v) > 256 {
			errs = append(errs, errors.New("expectedClaims: names of 1 to 64 printable characters, values of at most 256"))
			break
		}
	}
	if len(r.ExpectedClaims) > 0 && !on.Presentation {
		errs = append(errs, errors.New("expectedClaims: the presentation half is not configured"))
	}
	if len(r.Locale) > 16 || !logging.Printable(r.Locale) {
		errs = append(errs, errors.New("locale: a language tag such as fr"))
	}
	return errors.Join(errs...)
}
