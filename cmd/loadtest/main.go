// Command loadtest measures entra-verifier under load, on loopback only: it starts the real `verifier`
// binary (memory store, then two replicas on one Redis) with the sandbox's simulators of Microsoft as its
// upstream, drives callbacks, the create → callback → status cycle and Server-Sent Events watchers, each for
// a fixed count with bounded concurrency, and prints every figure beside the same figure for a bare
// net/http server (JSON decode + 204; an equally bare event stream) run the same way in the same run, so
// the ratios hold on a noisy machine. See BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	verifier    string
	redisURL    string
	redisMode   string
	memory      bool
	concurrency int
	callbacks   int
	rate        float64
	paced       int
	cycles      int
	latency     int
	pending     int
	watchers    int
	timeout     time.Duration
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == bareCommand {
		if err := serveBare(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest bare:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&o.verifier, "verifier", "", "path of the verifier binary (built with go build when empty)")
	fs.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/0", "Redis for the two-replica runs (loopback only; empty skips them)")
	fs.StringVar(&o.redisMode, "redis-mode", "single", "VERIFIER_REDIS_MODE of the two-replica runs: single, sentinel or cluster (-redis then has that mode's form)")
	fs.BoolVar(&o.memory, "memory", true, "run the memory-store scenarios (false: the Redis ones only, with their floor)")
	fs.IntVar(&o.concurrency, "concurrency", 32, "requests in flight at once")
	fs.IntVar(&o.callbacks, "callbacks", 20000, "callbacks sent at full speed (half request_retrieved, half presentation_verified)")
	fs.Float64Var(&o.rate, "rate", 1000, "callbacks per second of the paced run")
	fs.IntVar(&o.paced, "paced", 5000, "callbacks sent at -rate")
	fs.IntVar(&o.cycles, "cycles", 3000, "create → callbacks → status cycles")
	fs.IntVar(&o.latency, "create-latency", 500, "creates sent one at a time, each beside one straight to the upstream fake")
	fs.IntVar(&o.pending, "pending", 100000, "pending requests created to measure memory per request")
	fs.IntVar(&o.watchers, "watchers", 10000, "concurrent SSE watchers")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "the whole run's bound")
	quick := fs.Bool("quick", false, "small counts: a smoke test of the tool itself")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *quick {
		o.callbacks, o.paced, o.cycles, o.latency, o.pending, o.watchers, o.rate = 400, 200, 100, 20, 500, 100, 500
	}
	if err := o.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	raiseFileLimit()

	cleanup := []func(){}
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	if o.verifier == "" {
		bin, dir, err := buildVerifier(ctx)
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() { _ = os.RemoveAll(dir) })
		o.verifier = bin
	}
	up, err := startUpstream()
	if err != nil {
		return err
	}
	cleanup = append(cleanup, up.close)

	rep := &report{}
	start := time.Now()
	if o.memory {
		if err := runMemory(ctx, o, up, rep); err != nil {
			return fmt.Errorf("memory store: %w", err)
		}
	}
	if o.redisURL != "" {
		if err := runRedis(ctx, o, up, rep); err != nil {
			return fmt.Errorf("redis store: %w", err)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("run exceeded -timeout %s", o.timeout)
	}
	rep.print(out, o, time.Since(start))
	return nil
}

// check refuses counts a scenario cannot run with: the callback runs send two per request, so fewer than two
// would create none.
func (o *options) check() error {
	for _, c := range []struct {
		name   string
		n, min int
	}{{"callbacks", o.callbacks, 2}, {"paced", o.paced, 2}, {"cycles", o.cycles, 1}, {"create-latency", o.latency, 1},
		{"pending", o.pending, 1}, {"watchers", o.watchers, 1}, {"concurrency", o.concurrency, 1}} {
		if c.n < c.min {
			return fmt.Errorf("-%s %d: at least %d", c.name, c.n, c.min)
		}
	}
	if !(o.rate > 0) { // NaN too
		return fmt.Errorf("-rate %g: must be above 0", o.rate)
	}
	return nil
}
