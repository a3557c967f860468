package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/app"
	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/web"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

// serve wires configuration, store, clients and server, and runs until ctx ends, then drains. With
// sandboxMode (or VERIFIER_SANDBOX=true) it first starts the simulators and points the configuration at them.
func serve(ctx context.Context, getenv config.Getenv, sandboxMode bool, logOut io.Writer) error {
	cfg := config.Load(getenv)
	var sb *sandbox.Sandbox
	outbound := &http.Client{Timeout: 15 * time.Second}
	logger := logging.New(logOut, slog.LevelInfo)
	if sandboxMode || cfg.Sandbox {
		var err error
		if sb, getenv, err = startSandbox(getenv); err != nil {
			return err
		}
		defer sb.Close()
		outbound.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: sb.RootCAs()}}
		logger = logger.With("mode", "SANDBOX")
		cfg = config.Load(getenv) // pointed at the simulators
	}
	descriptors, err := wellknown.Load(cfg.WellKnown.DIDJSON, cfg.WellKnown.DIDConfigurationJSON)
	if err := errors.Join(cfg.Validate(), err); err != nil {
		return configError{err}
	}
	slog.SetDefault(logger)
	gin.SetMode(gin.ReleaseMode)

	warnInconsistentDescriptors(cfg, descriptors)
	svc, err := app.New(ctx, cfg, descriptors, outbound, sb)
	if err != nil {
		return err
	}
	defer svc.Close()
	srv := web.NewHTTPServer(cfg.ListenAddr, svc.Server.Handler())
	srv.RegisterOnShutdown(svc.Server.Close)
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	if sb != nil {
		fmt.Fprintf(logOut, "\nentra-verifier SANDBOX: open %s/ (simulated Microsoft and IDEMIA, made-up people, no accounts)\n"+
			"entra-verifier SANDBOX: the relying party's backend, simulated: %s%s\n\n", cfg.PublicURL, cfg.PublicURL, sandbox.ConsolePath)
	}
	slog.Info("verifier listening", "addr", ln.Addr().String(), "presentation", cfg.Entra.Enabled(), "ipa", cfg.IPA.Enabled(),
		"version", version, "commit", buildCommit(), "config", cfg)

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	servers := []*http.Server{srv}
	if cfg.MetricsAddr != "" {
		metrics, err := serveMetrics(cfg.MetricsAddr, svc.Server.MetricsHandler(), errc)
		if err != nil {
			_ = srv.Close()
			return err
		}
		servers = append(servers, metrics)
	}
	select {
	case err := <-errc:
		for _, s := range servers {
			_ = s.Close()
		}
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	slog.Info("stopped")
	return nil
}

// serveMetrics serves /metrics alone on addr (VERIFIER_METRICS_ADDR), reporting the end of Serve on errc.
func serveMetrics(addr string, h http.Handler, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("VERIFIER_METRICS_ADDR: %w", err)
	}
	srv := web.NewHTTPServer(addr, h)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("metrics listening", "addr", ln.Addr().String())
	return srv, nil
}

// warnInconsistentDescriptors logs, at start-up, what `verifier check` would report about the descriptors:
// the service still starts, since Microsoft may be hosting a newer copy while ours is being replaced.
func warnInconsistentDescriptors(cfg *config.Config, d *wellknown.Descriptors) {
	for _, c := range descriptorChecks(cfg, d) {
		if c.err != nil {
			slog.Warn("DID descriptors are inconsistent: run `verifier check`", "check", c.name, "problem", c.err.Error())
		}
	}
}
