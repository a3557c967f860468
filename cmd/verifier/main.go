// Command verifier runs entra-verifier: `verifier serve` (the default), `verifier check` (pre-flight checks),
// `verifier version`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/logging"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process's exit status.
func run(args []string, getenv config.Getenv, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("verifier "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "file of NAME=value settings (the environment wins)")
	sandboxMode := fs.Bool("sandbox", false, "run the whole journey locally against simulators of Microsoft and IDEMIA (no accounts)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configFile != "" {
		var err error
		if getenv, err = config.WithFile(getenv, *configFile); err != nil {
			fmt.Fprintln(stderr, logging.URLs(err.Error()))
			return 1
		}
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "verifier", buildVersion())
		return 0
	case "check":
		return check(context.Background(), getenv, stdout)
	case "serve":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if err := serve(ctx, getenv, *sandboxMode, stderr); err != nil {
			var cfgErr configError
			if errors.As(err, &cfgErr) { // printed without the logger: URLs are redacted here (logging.URLs)
				fmt.Fprintf(stderr, "verifier: invalid configuration:\n%s\n", logging.URLs(cfgErr.Error()))
			} else {
				fmt.Fprintf(stderr, "verifier: %s\n", logging.URLs(err.Error()))
			}
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "verifier: unknown command %q (want serve, check or version)\n", cmd)
		return 2
	}
}

// configError marks an invalid configuration (printed as a list).
type configError struct{ error }

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}
