package i18n_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/i18n"
)

func TestEveryShippedCatalogueIsCompleteAndTranslated(t *testing.T) {
	c, err := i18n.Load(nil)
	require.NoError(t, err)
	assert.Equal(t, i18n.Shipped, c.Offered())
	en := c.Messages("en")
	for _, lang := range i18n.Shipped[1:] {
		m := c.Messages(lang)
		assert.Len(t, m, len(en), lang)
		same := 0
		for k, v := range en {
			if m[k] == v {
				same++
			}
		}
		assert.LessOrEqual(t, same, 2, "%s: texts left in English", lang) // e.g. "Microsoft Authenticator" alone
	}
}

func TestMatch(t *testing.T) {
	c, err := i18n.Load([]string{"de", "fr", "en"})
	require.NoError(t, err)
	for _, tc := range []struct{ header, want string }{
		{"", "de"},
		{"fr-CA,fr;q=0.9,en;q=0.8", "fr"},
		{"en-GB", "en"},
		{"ja, en;q=0.5", "en"},
		{"ja", "de"},
		{"!!", "de"},
		{"pl", "de"}, // shipped, but not offered
	} {
		assert.Equal(t, tc.want, c.Match(tc.header), tc.header)
	}
}

func TestText(t *testing.T) {
	c, err := i18n.Load(nil)
	require.NoError(t, err)
	assert.Equal(t, "Étape 1 sur 2", c.Text("fr", "step.of", "n", "1", "total", "2"))
	assert.Equal(t, "Polski", c.Name("pl"))
	assert.Equal(t, c.Text("en", "ipa.start"), c.Text("xx", "ipa.start"), "an unknown language falls back to the first")
	assert.Equal(t, "no.such.key", c.Text("fr", "no.such.key"), "a key the catalogue lacks shows itself")
}

// TestTextIsTheCatalogue: every text reaches the templates exactly as the page's script receives it (no
// format verbs: a translator's "100 %" stays as written).
func TestTextIsTheCatalogue(t *testing.T) {
	c, err := i18n.Load(nil)
	require.NoError(t, err)
	for _, lang := range c.Offered() {
		for k, v := range c.Messages(lang) {
			assert.Equal(t, v, c.Text(lang, k), "%s %s", lang, k)
		}
	}
}

func TestLoadRefusesUnknownLanguage(t *testing.T) {
	_, err := i18n.Load([]string{"en", "tlh"})
	assert.ErrorContains(t, err, `"tlh" is not a shipped language`)
}
