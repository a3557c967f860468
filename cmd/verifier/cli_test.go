package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
)

// TestCommandLine runs each form of the command line README states ("Command line"). The environment would start a sandbox server on
// addr, so a form that wrongly reached serve would block (and fail the test) and leave a listener behind.
func TestCommandLine(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "cfg.env")
	require.NoError(t, os.WriteFile(cfgFile, []byte("VERIFIER_PUBLIC_URL=https://verifier.example.com\nENTRA_TENANT_ID=tenant\n"), 0o600))
	const usage, checkRan = "Usage: verifier [command] [flags]", "configuration          FAIL: ENTRA_CLIENT_ID: missing"
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // each must appear
		stderr     []string
		notInOut   []string // in neither
		stdoutOnly bool     // stderr must be empty
	}{
		{"help", []string{"help"}, 0, []string{usage, "Commands:", "  check ", "  serve ", "--config FILE", "--sandbox", "-h, --help"}, nil, nil, true},
		{"-h", []string{"-h"}, 0, []string{usage, "Commands:", "--config FILE"}, nil, nil, true},
		{"--help", []string{"--help"}, 0, []string{usage, "Commands:", "--config FILE"}, nil, nil, true},
		{"help after a command", []string{"check", "--help"}, 0, []string{usage}, nil, []string{"FAIL"}, true},
		{"version", []string{"version"}, 0, []string{"verifier " + version + " (commit ", ", go1."}, nil, nil, true},
		{"--version", []string{"--version"}, 0, []string{"verifier " + version + " (commit "}, nil, nil, true},
		{"--config before check runs check", []string{"--config", cfgFile, "check"}, 1, []string{checkRan}, nil, []string{"VERIFIER_PUBLIC_URL"}, true},
		{"--config after check runs check", []string{"check", "--config=" + cfgFile}, 1, []string{checkRan}, nil, []string{"VERIFIER_PUBLIC_URL"}, true},
		{"unreadable --config", []string{"--config", filepath.Join(t.TempDir(), "none.env"), "check"}, 1, nil, []string{"none.env"}, []string{usage}, false},
		{"unknown command", []string{"chek"}, 2, nil, []string{`verifier: unknown command "chek"`, usage}, nil, false},
		{"unknown flag", []string{"--bogus"}, 2, nil, []string{"verifier: unknown flag -bogus", usage}, nil, false},
		{"unknown flag after a command", []string{"check", "--bogus"}, 2, nil, []string{"unknown flag -bogus", usage}, []string{"FAIL"}, false},
		{"flag without its value", []string{"check", "--config"}, 2, nil, []string{"needs an argument: -config", usage}, nil, false},
		{"two commands", []string{"serve", "check"}, 2, nil, []string{`one command at a time, got "serve check"`, usage}, nil, false},
		{"check --sandbox", []string{"check", "--sandbox"}, 2, nil, []string{"--sandbox applies to serve only", usage}, []string{"FAIL"}, false},
		{"-v outside check", []string{"serve", "-v"}, 2, nil, []string{"-v applies to check only", usage}, nil, false},
		{"--version with another command", []string{"check", "--version"}, 2, nil, []string{"--version is the version command", usage}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := e2e.FreeAddr(t)
			env := map[string]string{"VERIFIER_SANDBOX": "true", "VERIFIER_LISTEN_ADDR": addr}
			var stdout, stderr strings.Builder
			done := make(chan int, 1)
			go func() { done <- run(tc.args, func(k string) string { return env[k] }, &stdout, &stderr) }()
			select {
			case code := <-done:
				assert.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			case <-time.After(20 * time.Second):
				t.Fatalf("%q did not return: it started the server", tc.args)
			}
			for _, s := range tc.stdout {
				assert.Contains(t, stdout.String(), s)
			}
			for _, s := range tc.stderr {
				assert.Contains(t, stderr.String(), s)
			}
			for _, s := range tc.notInOut {
				assert.NotContains(t, stdout.String()+stderr.String(), s)
			}
			if tc.stdoutOnly {
				assert.Empty(t, stderr.String())
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				_ = c.Close()
				t.Errorf("something listens on %s after %q", addr, tc.args)
			}
		})
	}
}

// TestParseCommandLine: flags before and after the command are one command line.
func TestParseCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want commandLine
	}{
		{"nothing is serve", nil, commandLine{command: "serve"}},
		{"--sandbox alone is serve", []string{"--sandbox"}, commandLine{command: "serve", sandbox: true}},
		{"flags before", []string{"--config", "f.env", "--sandbox", "serve"}, commandLine{command: "serve", configFile: "f.env", sandbox: true}},
		{"flags after", []string{"serve", "-sandbox", "-config=f.env"}, commandLine{command: "serve", configFile: "f.env", sandbox: true}},
		{"flags around", []string{"-config", "f.env", "check", "-v"}, commandLine{command: "check", configFile: "f.env", verbose: true}},
		{"--version", []string{"--version"}, commandLine{command: "version", version: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCommandLine(tc.args)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestVersionIsTheChangelogsNewest keeps `verifier version` on CHANGELOG.md's newest release.
func TestVersionIsTheChangelogsNewest(t *testing.T) {
	raw, err := os.ReadFile("../../CHANGELOG.md")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$`).FindStringSubmatch(string(raw))
	require.Len(t, m, 2, "CHANGELOG.md has a release heading: ## [x.y.z] - yyyy-mm-dd")
	assert.Equal(t, m[1], version)
	assert.Regexp(t, `^verifier `+regexp.QuoteMeta(version)+` \(commit \S+, go1\.\d+(\.\d+)?\)$`, versionLine())
}
