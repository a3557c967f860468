// Package i18n holds the person's page's texts: one message catalogue per language (locales/*.json, the
// same keys in each, English the reference), and the choice of a language from Accept-Language among the
// offered ones (golang.org/x/text/language's matcher). The server renders its templates with the chosen
// language's texts (Text); the page's script receives the same catalogue as JSON.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

//go:embed locales/*.json
var files embed.FS

// Shipped lists the languages the page ships, as BCP 47 tags: the default of VERIFIER_LANGUAGES, in its order.
var Shipped = []string{"en", "fr", "de", "es", "it", "nl", "pt", "pl"}

// Catalogue is the texts of the offered languages. Build it with Load; it is safe for concurrent use.
type Catalogue struct {
	offered  []string
	matcher  language.Matcher
	messages map[string]map[string]string // language → key → text
}

// Load reads the catalogues of offered (nil or empty: Shipped), the first being the fallback. Every
// catalogue must hold exactly the English keys.
func Load(offered []string) (*Catalogue, error) {
	if len(offered) == 0 {
		offered = Shipped
	}
	en, err := read("en")
	if err != nil {
		return nil, err
	}
	c := &Catalogue{offered: slices.Clone(offered), messages: map[string]map[string]string{}}
	var tags []language.Tag
	for _, lang := range offered {
		if !slices.Contains(Shipped, lang) {
			return nil, fmt.Errorf("i18n: %q is not a shipped language (%s)", lang, strings.Join(Shipped, ", "))
		}
		m, err := read(lang)
		if err != nil {
			return nil, err
		}
		if missing := missingKeys(en, m); len(missing) > 0 {
			return nil, fmt.Errorf("i18n: %s lacks %s", lang, strings.Join(missing, ", "))
		}
		tags = append(tags, language.Make(lang))
		c.messages[lang] = m
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

func read(lang string) (map[string]string, error) {
	b, err := files.ReadFile("locales/" + lang + ".json")
	if err != nil {
		return nil, fmt.Errorf("i18n: no catalogue for %s: %w", lang, err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("i18n: %s.json: %w", lang, err)
	}
	return m, nil
}

// missingKeys lists the keys of ref that m lacks or leaves empty, and the keys m has that ref lacks.
func missingKeys(ref, m map[string]string) []string {
	var out []string
	for k := range ref {
		if m[k] == "" {
			out = append(out, k)
		}
	}
	for k := range m {
		if _, ok := ref[k]; !ok {
			out = append(out, k+" (unknown)")
		}
	}
	slices.Sort(out)
	return out
}

// Offered returns the offered languages, the fallback first.
func (c *Catalogue) Offered() []string { return slices.Clone(c.offered) }

// Has reports whether lang is offered.
func (c *Catalogue) Has(lang string) bool { return c.messages[lang] != nil }

// Match returns the offered language that best matches an Accept-Language header; the first offered one
// when nothing matches (or the header is empty or malformed).
func (c *Catalogue) Match(acceptLanguage string) string {
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return c.offered[0]
	}
	_, i, conf := c.matcher.Match(prefs...)
	if conf == language.No {
		return c.offered[0]
	}
	return c.offered[i]
}

// Text returns the text of key in lang (an offered language; another one falls back to the first), as written
// in its catalogue (a key it lacks is shown as itself), with each {name} replaced by its value from args
// (name, value pairs).
func (c *Catalogue) Text(lang, key string, args ...string) string {
	s, ok := c.Messages(lang)[key]
	if !ok {
		s = key
	}
	for i := 0; i+1 < len(args); i += 2 {
		s = strings.ReplaceAll(s, "{"+args[i]+"}", args[i+1])
	}
	return s
}

// Messages returns every text of lang, for the page's script; callers must not change it.
func (c *Catalogue) Messages(lang string) map[string]string {
	if m, ok := c.messages[lang]; ok {
		return m
	}
	return c.messages[c.offered[0]]
}

// Name returns lang's name in lang itself, for the language menu.
func (c *Catalogue) Name(lang string) string { return c.Messages(lang)["language.name"] }
