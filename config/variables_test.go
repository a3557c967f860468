package config_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
)

var update = flag.Bool("update", false, "rewrite README.md's configuration table from config.Variables")

const (
	readme      = "../README.md"
	tableBegin  = "<!-- config-table:begin -->\n"
	tableEnd    = "<!-- config-table:end -->"
	tableIntro  = "Every setting is an environment variable, listed below; `serve` refuses to start with one message naming\nevery missing or invalid one. `--config FILE` reads the same names from `NAME=value` lines (the environment\nwins). A half (presentation, IPA) is on when any of its settings is given, and then needs all of them.\n"
	tableFooter = "Outbound HTTPS trusts the system roots; `SSL_CERT_FILE` (Go's standard variable) adds a private CA.\nSecrets (marked) belong in a secret store (the Kubernetes Secret in `deploy/`), never in a ConfigMap, an image or a\nlog.\n"
)

// TestLoadReadsEveryVariable keeps config.Variables and Load together: Load reads exactly the listed names.
func TestLoadReadsEveryVariable(t *testing.T) {
	read := map[string]bool{}
	config.Load(func(name string) string { read[name] = true; return "" })
	listed := map[string]bool{}
	for _, v := range config.Variables {
		assert.False(t, listed[v.Name], "%s is listed twice", v.Name)
		listed[v.Name] = true
		assert.NotEmpty(t, v.Description, v.Name)
		assert.False(t, v.Default != "" && v.DefaultNote != "", "%s: a Default or a DefaultNote, not both", v.Name)
	}
	assert.Equal(t, listed, read)
}

// configTable renders the README section between the markers from config.Variables.
func configTable() string {
	var b strings.Builder
	b.WriteString("<!-- generated from config.Variables by `make config-table`: edit config/variables.go, not this table -->\n")
	b.WriteString(tableIntro + "\n")
	b.WriteString("| variable | default | secret | meaning |\n|---|---|---|---|\n")
	for _, v := range config.Variables {
		def := "–"
		switch {
		case v.DefaultNote != "":
			def = v.DefaultNote
		case v.Default != "":
			def = "`" + v.Default + "`"
		}
		secret := ""
		if v.Secret {
			secret = "**secret**"
		}
		b.WriteString("| `" + v.Name + "` | " + def + " | " + secret + " | " + strings.ReplaceAll(v.Description, "|", `\|`) + " |\n")
	}
	b.WriteString("\n" + tableFooter)
	return b.String()
}

// TestReadmeConfigTable fails when README.md's table differs from config.Variables; -update rewrites it.
func TestReadmeConfigTable(t *testing.T) {
	raw, err := os.ReadFile(readme)
	require.NoError(t, err)
	text := string(raw)
	i := strings.Index(text, tableBegin)
	j := strings.Index(text, tableEnd)
	require.True(t, i >= 0 && j > i, "README.md needs the markers %q and %q, in that order", strings.TrimSpace(tableBegin), tableEnd)
	current, want := text[i+len(tableBegin):j], configTable()
	if *update {
		require.NoError(t, os.WriteFile(readme, []byte(text[:i+len(tableBegin)]+want+text[j:]), 0o644))
		return
	}
	assert.Equal(t, want, current, "README.md's configuration table is stale: run `make config-table`")
}
