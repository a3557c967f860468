// Command verifier runs entra-verifier: `verifier serve` (the default), `verifier check` (pre-flight checks),
// `verifier version` and `verifier help`. Flags may come before or after the command.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/logging"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process's exit status: 0 success, 1 a failed command
// (invalid configuration, a failed check), 2 a command line that is not understood (nothing is started).
func run(args []string, getenv config.Getenv, stdout, stderr io.Writer) int {
	cl, err := parseCommandLine(args)
	switch {
	case errors.Is(err, errHelp):
		printUsage(stdout)
		return 0
	case err != nil:
		printf(stderr, "verifier: %s\n\n", err)
		printUsage(stderr)
		return 2
	}
	if cl.configFile != "" {
		if getenv, err = config.WithFile(getenv, cl.configFile); err != nil {
			printf(stderr, "verifier: %s\n", logging.URLs(err.Error()))
			return 1
		}
	}
	switch cl.command {
	case "help":
		printUsage(stdout)
		return 0
	case "version":
		printf(stdout, "%s\n", versionLine())
		return 0
	case "check":
		return check(context.Background(), getenv, stdout, cl.verbose)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, getenv, cl.sandbox, stderr); err != nil {
		var cfgErr configError
		if errors.As(err, &cfgErr) { // printed without the logger: URLs are redacted here (logging.URLs)
			printf(stderr, "verifier: invalid configuration:\n%s\n", logging.URLs(cfgErr.Error()))
		} else {
			printf(stderr, "verifier: %s\n", logging.URLs(err.Error()))
		}
		return 1
	}
	return 0
}

// configError marks an invalid configuration (printed as a list).
type configError struct{ error }
