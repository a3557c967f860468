package main

import (
	"runtime"
	"runtime/debug"
)

// version is the release: the newest version of CHANGELOG.md (semantic versioning). scripts/build-binary.sh may
// replace it with -ldflags "-X main.version=…" (VERSION), e.g. for a release candidate.
var version = "0.1.0"

// commit is the commit the binary was built from, set by scripts/build-binary.sh (-X main.commit=…); a plain
// `go build` in a git checkout records it in the build information instead.
var commit = ""

// versionLine is what `verifier version` prints: the version, the commit and the Go version.
func versionLine() string {
	return "verifier " + version + " (commit " + buildCommit() + ", " + runtime.Version() + ")"
}

// buildCommit is commit, else the VCS revision go build recorded (12 digits, "+dirty" with local changes),
// else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}
