package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commands are the commands README's "Command line" lists, in the order the usage lists them.
var commands = []struct{ name, summary string }{
	{"serve", "run the service (the default when no command is given)"},
	{"check", "run every pre-flight check (configuration, DID descriptors, a token from each configured half);\n" +
		"exit status 0 only when all pass"},
	{"version", "print the version, the commit and the Go version"},
	{"help", "print this help"},
}

// commandLine is a parsed command line.
type commandLine struct {
	command    string // one of commands
	configFile string
	sandbox    bool
	verbose    bool
	version    bool
}

// errHelp asks for the usage on standard output and exit status 0 (-h, --help).
var errHelp = errors.New("help requested")

// newFlagSet declares the flags, which every command accepts before or after its name.
func newFlagSet(cl *commandLine) *flag.FlagSet {
	fs := flag.NewFlagSet("verifier", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the usage itself, on stdout for help and stderr for an error
	fs.Usage = func() {}
	fs.StringVar(&cl.configFile, "config", "", "read `FILE`'s NAME=value lines as settings (the environment wins)")
	fs.BoolVar(&cl.sandbox, "sandbox", false, "serve: run the whole journey against local simulators of Microsoft and IDEMIA (no accounts)")
	fs.BoolVar(&cl.verbose, "v", false, "check: print upstream errors in full under each summary")
	fs.BoolVar(&cl.version, "version", false, "print the version (same as the version command)")
	return fs
}

// parseCommandLine reads at most one command and the flags around it: `verifier --config f.env check` and
// `verifier check --config f.env` are the same command line.
func parseCommandLine(args []string) (commandLine, error) {
	var cl commandLine
	fs := newFlagSet(&cl)
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return cl, errHelp
			}
			msg := strings.TrimPrefix(err.Error(), "flag ")
			if name, ok := strings.CutPrefix(msg, "provided but not defined: "); ok {
				msg = "unknown flag " + name
			}
			return cl, errors.New(msg)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		words, args = append(words, args[0]), args[1:]
	}
	switch {
	case len(words) > 1:
		return cl, fmt.Errorf("one command at a time, got %q", strings.Join(words, " "))
	case len(words) == 1:
		cl.command = words[0]
	case cl.version:
		cl.command = "version"
	default:
		cl.command = "serve"
	}
	if !knownCommand(cl.command) {
		return cl, fmt.Errorf("unknown command %q", cl.command)
	}
	if cl.version && cl.command != "version" {
		return cl, fmt.Errorf("--version is the version command: drop %q or --version", cl.command)
	}
	if cl.sandbox && cl.command != "serve" {
		return cl, fmt.Errorf("--sandbox applies to serve only (check tests the real Microsoft and IDEMIA): drop --sandbox")
	}
	if cl.verbose && cl.command != "check" {
		return cl, fmt.Errorf("-v applies to check only")
	}
	return cl, nil
}

func knownCommand(name string) bool {
	for _, c := range commands {
		if c.name == name {
			return true
		}
	}
	return false
}

// printUsage writes the commands and the flags.
func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: verifier [command] [flags]\n\n")
	b.WriteString("entra-verifier: the relying-party side of IDEMIA IPA and Microsoft Entra Verified ID.\n\n")
	b.WriteString("Commands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, strings.ReplaceAll(c.summary, "\n", "\n            "))
	}
	b.WriteString("\nFlags (before or after the command):\n")
	fs := newFlagSet(&commandLine{})
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(&b, "  %-16s %s\n", strings.TrimSpace(dash+f.Name+" "+name), usage)
	})
	fmt.Fprintf(&b, "  %-16s %s\n", "-h, --help", "print this help")
	b.WriteString("\nSettings are environment variables (README.md, \"Configuration\"); try `verifier serve --sandbox` first.\n")
	printf(w, "%s", b.String())
}

// printf writes to a terminal or a pipe; a failed write has nowhere to be reported.
func printf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}
