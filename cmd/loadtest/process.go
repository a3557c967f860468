package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a server process the tool started: the verifier or the bare baseline.
type child struct {
	name string
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	log  *os.File
}

// buildVerifier builds ./cmd/verifier (run from the module root) into a temporary directory.
func buildVerifier(ctx context.Context) (bin, dir string, err error) {
	if dir, err = os.MkdirTemp("", "loadtest-"); err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "verifier")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "nomsgpack", "-o", bin, "./cmd/verifier")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", fmt.Errorf("build verifier (run from the module root, or pass -verifier): %w", err)
	}
	return bin, dir, nil
}

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startVerifier runs the verifier binary with env (plus PATH and HOME only) on a free loopback port and
// waits for /readyz.
func startVerifier(ctx context.Context, name, bin string, env map[string]string) (*child, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	vars := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"VERIFIER_LISTEN_ADDR=" + addr, "VERIFIER_PUBLIC_URL=http://" + addr}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	log, err := os.CreateTemp("", "loadtest-"+name+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = vars, log, log
	c := &child{name: name, base: "http://" + addr, cmd: cmd, log: log}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx, "/readyz"); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// startBare re-runs this program as the bare baseline server and reads its address from its first line.
func startBare(ctx context.Context) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, bareCommand)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{name: "bare", cmd: cmd}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("bare server: %w", err)
	}
	c.base = "http://" + strings.TrimSpace(line)
	if err := c.waitReady(ctx, "/metrics"); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *child) waitReady(ctx context.Context, path string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(c.base + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if c.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become ready at %s%s (log: %s)", c.name, c.base, path, c.logName())
}

func (c *child) logName() string {
	if c.log == nil {
		return "stderr"
	}
	return c.log.Name()
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and removes its log unless it failed.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	if c.log != nil {
		_ = c.log.Close()
		_ = os.Remove(c.log.Name())
	}
}

// procStatus reads VmRSS and VmHWM (peak resident) of the process, in bytes.
func (c *child) procStatus() (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// memStats are the Go runtime figures a child exposes on /metrics (the verifier's Prometheus Go collector,
// or the bare server's imitation of it).
type memStats struct {
	mallocs, allocBytes, heapInuse, nextGC float64
	// trips is the redis store's verifier_store_round_trips_total (0 elsewhere).
	trips float64
	// cpu is the process's user and system CPU time (/proc/PID/stat), in seconds.
	cpu      float64
	rss, hwm int64
}

func (c *child) memStats(ctx context.Context) (memStats, error) {
	var m memStats
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	want := map[string]*float64{"go_memstats_mallocs_total": &m.mallocs, "go_memstats_alloc_bytes_total": &m.allocBytes,
		"go_memstats_heap_inuse_bytes": &m.heapInuse, "go_memstats_next_gc_bytes": &m.nextGC}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == "verifier_store_round_trips_total" {
			if m.trips, err = strconv.ParseFloat(value, 64); err != nil {
				return m, err
			}
		}
		if p := want[name]; ok && p != nil {
			if *p, err = strconv.ParseFloat(value, 64); err != nil {
				return m, err
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		return m, errors.New(c.name + ": /metrics lacks the Go memory statistics")
	}
	if m.rss, m.hwm, err = c.procStatus(); err != nil {
		return m, err
	}
	m.cpu, err = c.cpuSeconds()
	return m, err
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux architecture Go runs on.
const clockTicks = 100

// cpuSeconds reads the process's utime + stime from /proc/PID/stat (fields 14 and 15, counted after the
// command name, which may hold spaces, in parentheses).
func (c *child) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: unexpected /proc stat %q", c.name, b)
	}
	fields := strings.Fields(string(b[i+1:])) // fields[0] is field 3, the state
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s: unexpected /proc stat %q", c.name, b)
	}
	var ticks float64
	for _, f := range fields[11:13] {
		t, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, err
		}
		ticks += t
	}
	return ticks / clockTicks, nil
}

// raiseFileLimit lifts the soft limit on open files to the hard one: 10,000 watchers need as many sockets
// here and in the server (which inherits the limit).
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
