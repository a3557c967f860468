package deploy

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// No Docker engine runs in CI, so the image is checked in parts: the Dockerfile's shape, that it builds with
// the one build script (the same as `make build`), that the build context keeps every file that build needs,
// and the binary that script makes: static, built as the project builds, and small enough for the image.

const (
	repoRoot    = ".."
	buildScript = "scripts/build-binary.sh"
	// imageBudget is the largest image we accept, uncompressed (as `docker images` shows it, 1 MB = 10^6 bytes).
	imageBudget = 30_000_000
	caBundle    = "/etc/ssl/certs/ca-certificates.crt"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
}

func dockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	return out
}

func TestDockerfile(t *testing.T) {
	var stages [][]instruction
	for _, in := range dockerfile(t) {
		assert.NotEqual(t, "HEALTHCHECK", in.cmd, "no HEALTHCHECK: Kubernetes probes /healthz and /readyz")
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		require.NotEmpty(t, stages, "the Dockerfile starts with FROM")
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	require.GreaterOrEqual(t, len(stages), 2, "a multi-stage build")

	var builds []string
	for _, stage := range stages[:len(stages)-1] {
		for _, in := range stage {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				t.Errorf("the Dockerfile runs go build itself (%q): call %s so CI checks the same build", in.args, buildScript)
			}
			if in.cmd == "RUN" && strings.Contains(in.args, buildScript) {
				builds = append(builds, in.args)
			}
		}
	}
	require.Len(t, builds, 1, "one RUN of %s in the build stages", buildScript)

	final := stages[len(stages)-1]
	base := strings.Fields(final[0].args)[0]
	assert.Regexp(t, `^(scratch|gcr\.io/distroless/static(-debian\d+)?(:[\w.-]+)?(@sha256:[0-9a-f]+)?)$`, base, "a scratch or distroless/static base")
	has := func(cmd, pattern string) bool {
		for _, in := range final {
			if in.cmd == cmd && regexp.MustCompile(pattern).MatchString(in.args) {
				return true
			}
		}
		return false
	}
	if base == "scratch" {
		assert.True(t, has("COPY", `ca-certificates\.crt /etc/ssl/certs/ca-certificates\.crt$`), "scratch needs the CA certificates copied in")
	}
	assert.True(t, has("COPY", `^--from=\w+ /out/verifier /verifier$`), "the binary is copied from the build stage")
	assert.True(t, has("EXPOSE", `^8080$`), "EXPOSE 8080 (VERIFIER_LISTEN_ADDR's default)")
	assert.True(t, has("ENTRYPOINT", `^\["/verifier"\]$`))
	var user string
	for _, in := range final {
		if in.cmd == "USER" {
			user = in.args
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	n, err := strconv.Atoi(uid)
	assert.NoError(t, err, "USER is numeric (%q), so Kubernetes' runAsNonRoot can check it", user)
	assert.NotZero(t, n, "USER is not root")
	if gid != "" {
		assert.Regexp(t, `^[1-9]\d*$`, gid, "the group is numeric and not root")
	}
}

// TestMakefileBuildsWithTheScript keeps `make build` on the same build as the image.
func TestMakefileBuildsWithTheScript(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	require.NoError(t, err)
	mk := string(raw)
	assert.NotContains(t, mk, "./cmd/verifier", "the Makefile builds cmd/verifier only through "+buildScript)
	assert.Regexp(t, `(?m)^build:.*\n(\t.*\n)*\t.*`+regexp.QuoteMeta(buildScript)+` bin/verifier`, mk)
}

// TestMakefileTagsEverywhere: the Makefile's TAGS is the tag of the release build, of CI (which runs make) and
// of gopls (.vscode/settings.json), so an editor, a test run and the image compile the same files.
func TestMakefileTagsEverywhere(t *testing.T) {
	read := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(repoRoot, name))
		require.NoError(t, err)
		return string(raw)
	}
	m := regexp.MustCompile(`(?m)^TAGS\s*:=\s*(\S+)$`).FindStringSubmatch(read("Makefile"))
	require.Len(t, m, 2, "the Makefile sets TAGS := …")
	tags := m[1]
	assert.Equal(t, "nomsgpack", tags, "jwx_es256k is no longer needed (wellknown/es256k.go)")
	assert.Contains(t, read(buildScript), "go build -tags "+tags+" ", buildScript)
	var vscode struct {
		BuildTags string `json:"go.buildTags"`
		Gopls     struct {
			BuildFlags []string `json:"buildFlags"`
		} `json:"gopls"`
	}
	require.NoError(t, json.Unmarshal([]byte(read(".vscode/settings.json")), &vscode))
	assert.Equal(t, tags, vscode.BuildTags)
	assert.Equal(t, []string{"-tags=" + tags}, vscode.Gopls.BuildFlags)
	assert.NotContains(t, read(".ci/run"), "-tags", ".ci/run runs make, which gives the tags")
}

// TestDockerignoreKeepsTheBuild checks that no file the build reads is left out of the build context.
func TestDockerignoreKeepsTheBuild(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	require.NoError(t, err)
	var patterns []string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		require.False(t, strings.HasPrefix(line, "!"), "exceptions (!) are not supported by this check")
		patterns = append(patterns, strings.TrimSuffix(strings.TrimPrefix(line, "/"), "/"))
	}
	needed := []string{"go.mod", "go.sum", buildScript}
	cmd := exec.Command("go", "list", "-tags", "nomsgpack", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/verifier")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		require.NoError(t, dec.Decode(&p))
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		require.NoError(t, err)
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	require.Greater(t, len(needed), 10)
	for _, f := range needed {
		for _, p := range patterns {
			assert.False(t, ignores(p, f), ".dockerignore's %q leaves out %s, which the build needs", p, f)
		}
	}
	// The check itself: these must be left out.
	for p, f := range map[string]string{"**/testdata": "web/testdata/x.json", "deploy": "deploy/base/a.yaml", "*.md": "README.md", "**/*_test.go": "web/a_test.go"} {
		assert.True(t, ignores(p, f), "%q should leave out %s", p, f)
	}
}

// ignores reports whether a .dockerignore pattern leaves out file (slash-separated, relative to the context):
// the pattern matches the file or one of its parent directories; a leading **/ matches at any depth.
func ignores(pattern, file string) bool {
	parts := strings.Split(file, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
			for j := 0; j < i; j++ {
				if m, _ := path.Match(rest, strings.Join(parts[j:i], "/")); m {
					return true
				}
			}
		} else if m, _ := path.Match(pattern, prefix); m {
			return true
		}
	}
	return false
}

// TestImageBinary builds the binary as the Dockerfile does and checks what the image will ship.
func TestImageBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "verifier")
	cmd := exec.Command(filepath.Join(repoRoot, buildScript), bin)
	cmd.Env = append(os.Environ(), "VERSION=image-check", "COMMIT=0123456789ab")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", buildScript, out)

	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "the binary asks for a dynamic loader: it is not static")
		assert.NotEqual(t, elf.PT_DYNAMIC, p.Type, "the binary has a dynamic section: it is not static")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	assert.Empty(t, libs, "the binary needs shared libraries")

	info, err := buildinfo.ReadFile(bin)
	require.NoError(t, err)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	assert.Equal(t, "0", settings["CGO_ENABLED"])
	assert.Equal(t, "nomsgpack", settings["-tags"])
	assert.Equal(t, "true", settings["-trimpath"])
	assert.Nil(t, f.Section(".symtab"), "the binary is stripped (-ldflags -s)")
	assert.Nil(t, f.Section(".debug_info"), "the binary has no DWARF (-ldflags -w)")

	version, err := exec.Command(bin, "version").Output()
	require.NoError(t, err, "the static binary runs")
	assert.Regexp(t, `^verifier image-check \(commit 0123456789ab, go1\.\d+\.\d+\)\n$`, string(version), "version, commit and Go version set at build time")

	st, err := os.Stat(bin)
	require.NoError(t, err)
	ca := int64(250_000) // about Debian's bundle, when this machine has none to measure
	if s, err := os.Stat(caBundle); err == nil {
		ca = s.Size()
	}
	image := st.Size() + ca
	t.Logf("binary %.2f MB, CA bundle %.2f MB: image about %.2f MB of a %.0f MB budget (%.2f MB left)",
		mb(st.Size()), mb(ca), mb(image), mb(imageBudget), mb(imageBudget-image))
	assert.Less(t, image, int64(imageBudget), "the image would be %.2f MB: over the %.0f MB budget", mb(image), mb(imageBudget))
}

func mb(n int64) float64 { return float64(n) / 1e6 }
