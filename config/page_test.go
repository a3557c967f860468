package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/i18n"
)

func TestPageDefaults(t *testing.T) {
	c := config.Load(env(valid()))
	require.NoError(t, c.Validate())
	assert.Equal(t, config.Page{BrandName: "Identity verification", BrandColor: "#1d4ed8", Languages: i18n.Shipped}, c.Page)
}

func TestPageValidate(t *testing.T) {
	dir := t.TempDir()
	png := filepath.Join(dir, "logo.png")
	require.NoError(t, os.WriteFile(png, []byte("\x89PNG\r\n\x1a\nrest"), 0o600))
	svg := filepath.Join(dir, "logo.svg")
	require.NoError(t, os.WriteFile(svg, []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), 0o600))
	big := filepath.Join(dir, "big.png")
	require.NoError(t, os.WriteFile(big, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, config.MaxBrandLogo)...), 0o600))
	gif := filepath.Join(dir, "logo.gif")
	require.NoError(t, os.WriteFile(gif, []byte("GIF89a"), 0o600))

	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{"all set", []string{"VERIFIER_TERMS_URL", "https://bank.example/terms", "VERIFIER_PRIVACY_URL", "https://bank.example/privacy",
			"VERIFIER_BRAND_NAME", "Example Bank", "VERIFIER_BRAND_LOGO", svg, "VERIFIER_BRAND_COLOR", "#0B5E3C", "VERIFIER_LANGUAGES", "fr, en"}, nil},
		{"png logo", []string{"VERIFIER_BRAND_LOGO", png}, nil},
		{"bad links", []string{"VERIFIER_TERMS_URL", "http://bank.example/terms?x=secret", "VERIFIER_PRIVACY_URL", "ftp://bank.example/p"}, []string{
			`VERIFIER_TERMS_URL: must be an https URL (http only for localhost or 127.0.0.1), got "http://bank.example/terms?…"`,
			`VERIFIER_PRIVACY_URL: must be an https URL`,
		}},
		{"privacy without terms", []string{"VERIFIER_PRIVACY_URL", "https://bank.example/privacy"}, []string{"VERIFIER_PRIVACY_URL: goes with VERIFIER_TERMS_URL"}},
		{"logo too big", []string{"VERIFIER_BRAND_LOGO", big}, []string{"VERIFIER_BRAND_LOGO: the logo has 262152 bytes, more than 262144 (256 KiB)"}},
		{"logo neither PNG nor SVG", []string{"VERIFIER_BRAND_LOGO", gif}, []string{"VERIFIER_BRAND_LOGO: the logo is neither a PNG nor an SVG file"}},
		{"logo missing", []string{"VERIFIER_BRAND_LOGO", filepath.Join(dir, "none.svg")}, []string{"VERIFIER_BRAND_LOGO: cannot read the logo"}},
		{"colour malformed", []string{"VERIFIER_BRAND_COLOR", "blue"}, []string{`VERIFIER_BRAND_COLOR: must be a colour #rrggbb, got "blue"`}},
		{"colour too light for white text", []string{"VERIFIER_BRAND_COLOR", "#60a5fa"}, []string{
			"VERIFIER_BRAND_COLOR: white text on #60a5fa has a contrast ratio of 2.54:1, under the 4.5:1 WCAG AA asks for"}},
		{"unknown language", []string{"VERIFIER_LANGUAGES", "en,tlh"}, []string{`VERIFIER_LANGUAGES: "tlh" is not a language the page ships`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireProblems(t, config.Load(env(with(valid(), tc.kv...))).Validate(), tc.want)
		})
	}
}

func TestContrastWithWhite(t *testing.T) {
	assert.InDelta(t, 21, config.ContrastWithWhite("#000000"), 0.01)
	assert.InDelta(t, 1, config.ContrastWithWhite("#ffffff"), 0.01)
	assert.InDelta(t, 6.70, config.ContrastWithWhite("#1d4ed8"), 0.01) // the default passes
	assert.Equal(t, 1.0, config.ContrastWithWhite("#12"))
}

func TestPageLanguagesKeepOrder(t *testing.T) {
	c := config.Load(env(with(valid(), "VERIFIER_LANGUAGES", "PL, de")))
	require.NoError(t, c.Validate())
	assert.Equal(t, []string{"pl", "de"}, c.Page.Languages)
}
