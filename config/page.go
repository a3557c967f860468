package config

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"

	"github.com/entra-verifier/entra-verifier/i18n"
)

// MaxBrandLogo bounds VERIFIER_BRAND_LOGO's file.
const MaxBrandLogo = 256 << 10

var hexColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// page checks the person's page's settings: the terms and privacy links, the brand and the languages.
func (v *validator) page(c *Config) {
	for _, link := range [][2]string{{"VERIFIER_TERMS_URL", c.Page.TermsURL}, {"VERIFIER_PRIVACY_URL", c.Page.PrivacyURL}} {
		name, raw := link[0], link[1]
		if raw == "" {
			continue
		}
		v.secureOrLocalURL(name, raw)
	}
	if c.Page.PrivacyURL != "" && c.Page.TermsURL == "" {
		v.addf("VERIFIER_PRIVACY_URL", "goes with VERIFIER_TERMS_URL: set the terms too")
	}
	if c.Page.BrandLogo != "" {
		if _, _, err := BrandLogo(c.Page.BrandLogo); err != nil {
			v.addf("VERIFIER_BRAND_LOGO", "%v", err)
		}
	}
	switch {
	case !hexColor.MatchString(c.Page.BrandColor):
		v.addf("VERIFIER_BRAND_COLOR", "must be a colour #rrggbb, got %q", c.Page.BrandColor)
	case ContrastWithWhite(c.Page.BrandColor) < 4.5:
		v.addf("VERIFIER_BRAND_COLOR", "white text on %s has a contrast ratio of %.2f:1, under the 4.5:1 WCAG AA asks for: choose a darker colour",
			c.Page.BrandColor, ContrastWithWhite(c.Page.BrandColor))
	}
	if len(c.Page.Languages) == 0 {
		v.addf("VERIFIER_LANGUAGES", "must name at least one language (%v)", i18n.Shipped)
	}
	for _, lang := range c.Page.Languages {
		if !slices.Contains(i18n.Shipped, lang) {
			v.addf("VERIFIER_LANGUAGES", "%q is not a language the page ships (%v)", lang, i18n.Shipped)
		}
	}
}

// BrandLogo reads the logo file at path and returns its bytes and media type: PNG or SVG, at most
// MaxBrandLogo bytes.
func BrandLogo(path string) (data []byte, mediaType string, err error) {
	data, err = os.ReadFile(path)
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("cannot read the logo: %w", err)
	case len(data) > MaxBrandLogo:
		return nil, "", fmt.Errorf("the logo has %d bytes, more than %d (256 KiB)", len(data), MaxBrandLogo)
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return data, "image/png", nil
	case bytes.Contains(data[:min(len(data), 4096)], []byte("<svg")):
		return data, "image/svg+xml", nil
	}
	return nil, "", fmt.Errorf("the logo is neither a PNG nor an SVG file")
}

// ContrastWithWhite is the WCAG 2.1 contrast ratio of white text on the colour #rrggbb (1 for a malformed one).
func ContrastWithWhite(color string) float64 {
	if !hexColor.MatchString(color) {
		return 1
	}
	lum := 0.0
	for i, weight := range []float64{0.2126, 0.7152, 0.0722} {
		n, _ := strconv.ParseUint(color[1+2*i:3+2*i], 16, 8)
		c := float64(n) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += weight * c
	}
	return 1.05 / (lum + 0.05)
}
