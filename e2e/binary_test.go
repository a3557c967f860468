package e2e

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/verifier once per test run, with the project's tags.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "verifier-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "verifier")
		out, err := exec.Command("go", "build", "-tags", "jwx_es256k,nomsgpack", "-o", binPath, "../cmd/verifier").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Log(string(out))
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func TestBinaryWithoutEnvironmentNamesEveryMissingVariable(t *testing.T) {
	cmd := exec.Command(binary(t))
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	for _, name := range []string{"VERIFIER_PUBLIC_URL", "ENTRA_TENANT_ID", "ENTRA_CLIENT_ID", "ENTRA_CLIENT_SECRET",
		"ENTRA_CLIENT_CERTIFICATE", "ENTRA_VERIFIER_DID", "IPA_COGNITO_URL", "IPA_CLIENT_ID", "IPA_CLIENT_SECRET"} {
		assert.Contains(t, string(out), name)
	}
}

// TestBinaryServesTheFlow starts the built binary with SPEC section 5's environment pointing at TLS fakes,
// trusted through SSL_CERT_FILE, drives one request over real HTTP, then stops it with SIGTERM while a
// create is in flight: the create completes and the process exits 0.
func TestBinaryServesTheFlow(t *testing.T) {
	idp := &sandbox.IdentityPlatform{ClientID: "client-id", ClientSecret: "client-secret"}
	idpSrv := httptest.NewTLSServer(idp)
	defer idpSrv.Close()
	rs := &sandbox.RequestService{Identity: idp}
	rsSrv := httptest.NewTLSServer(rs)
	defer rsSrv.Close()
	caFile := filepath.Join(t.TempDir(), "fakes-ca.pem")
	var pemBytes []byte
	for _, s := range []*httptest.Server{idpSrv, rsSrv} {
		pemBytes = append(pemBytes, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})...)
	}
	require.NoError(t, os.WriteFile(caFile, pemBytes, 0o600))

	addr := FreeAddr(t)
	base := "http://" + addr
	proc := startProcess(t, []string{"serve"}, []string{
		"SSL_CERT_FILE=" + caFile,
		"VERIFIER_LISTEN_ADDR=" + addr,
		"VERIFIER_PUBLIC_URL=" + base,
		"ENTRA_TENANT_ID=11111111-2222-3333-4444-555555555555",
		"ENTRA_CLIENT_ID=client-id",
		"ENTRA_CLIENT_SECRET=client-secret",
		"ENTRA_AUTHORITY_HOST=" + idpSrv.URL,
		"ENTRA_REQUEST_SERVICE_URL=" + rsSrv.URL + "/v1.0",
		"ENTRA_VERIFIER_DID=did:web:verifier.example.com",
	})
	proc.waitReady(t, base+"/readyz")
	logs := proc.logs

	browser := NewBrowser(t)
	resp, err := browser.Post(base+"/api/verifier/presentation-requests", "application/json", nil)
	require.NoError(t, err)
	var c Created
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, proc.logs.String())

	status, err := rs.SendCallback(t.Context(), c.RequestID, sandbox.Verified(sandbox.VerifiedIdentity(USDID, Person())))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	resp, err = browser.Get(base + "/api/verifier/presentation-requests/" + c.RequestID)
	require.NoError(t, err)
	var st map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	assert.Equal(t, "verified", st["status"])

	// Graceful shutdown: a slow create in flight when SIGTERM arrives still completes.
	rs.SetDelay(time.Second)
	inflight := make(chan int, 1)
	go func() {
		resp, err := browser.Post(base+"/api/verifier/presentation-requests", "application/json", nil)
		if err != nil {
			inflight <- 0
			return
		}
		resp.Body.Close()
		inflight <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, proc.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, http.StatusCreated, <-inflight, "the in-flight create finished")
	select {
	case <-proc.exited:
		assert.NoError(t, proc.err, "exit status 0 after a graceful shutdown")
	case <-time.After(25 * time.Second):
		t.Fatal("the process did not stop")
	}
	assert.NotContains(t, logs.String(), "Megan", "claims are never logged")
	assert.NotContains(t, logs.String(), "client-secret")
}

// process is the built binary running for one test; it is killed at the test's end.
type process struct {
	cmd    *exec.Cmd
	logs   *SyncBuffer
	exited chan struct{} // closed when the process has exited; err is then its exit error
	err    error
}

func startProcess(t *testing.T, args, env []string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary(t), args...), logs: &SyncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	return p
}

// waitReady polls url until it answers 200, failing with the process's output if it exits or takes 15 s.
func (p *process) waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("the binary exited early (%v):\n%s", p.err, p.logs.String())
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not ready within 15s:\n%s", p.logs.String())
}

func TestBinaryRefusesUnreadableDescriptors(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "did-configuration.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("<html>"), 0o600))
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = []string{"WELLKNOWN_DID_JSON=" + filepath.Join(dir, "missing.json"), "WELLKNOWN_DID_CONFIGURATION_JSON=" + notJSON}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	for _, want := range []string{"VERIFIER_PUBLIC_URL: missing", "WELLKNOWN_DID_JSON", "WELLKNOWN_DID_CONFIGURATION_JSON"} {
		assert.Contains(t, string(out), want, "one message names every problem")
	}
}
