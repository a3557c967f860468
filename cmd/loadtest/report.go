package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// alloc is what a server allocated per operation, its Redis round trips and CPU time per operation, and
// Redis's own CPU time per operation (seconds).
type alloc struct{ objects, bytes, trips, cpu, redisCPU float64 }

// plus is the per-operation mean of a (over n operations) and b (over m).
func (a alloc) plus(b alloc, n, m int) alloc {
	if n+m == 0 {
		return alloc{}
	}
	mean := func(x, y float64) float64 { return (x*float64(n) + y*float64(m)) / float64(n+m) }
	return alloc{objects: mean(a.objects, b.objects), bytes: mean(a.bytes, b.bytes), trips: mean(a.trips, b.trips),
		cpu: mean(a.cpu, b.cpu), redisCPU: mean(a.redisCPU, b.redisCPU)}
}

// row is one scenario measured on the verifier and on the bare floor.
type row struct {
	name                string
	ours, bare          sample
	ourAlloc, bareAlloc alloc
	conc                int
	rate                float64
	delivery            bool // latencies are event deliveries, not request round trips
}

// memRow is a server's growth for n held items (pending requests, open streams).
type memRow struct {
	name, item    string
	n             int
	before, after memStats
}

type createRow struct {
	name           string
	ours, upstream sample
}

// report collects the figures and prints them with the goals they answer.
type report struct {
	rows       []row
	mem        []memRow
	createRows []createRow
	tokenCalls int
	creates    int
	peakMemory int64
}

func (r *report) add(x row) { r.rows = append(r.rows, x) }
func (r *report) addMemory(name, item string, n int, before, after memStats) {
	r.mem = append(r.mem, memRow{name, item, n, before, after})
}
func (r *report) addCreate(name string, ours, upstream sample) {
	r.createRows = append(r.createRows, createRow{name, ours, upstream})
}

func newSample(lat []time.Duration) sample {
	lat = slices.Clone(lat)
	slices.Sort(lat)
	return sample{n: len(lat), lat: lat}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func (r *report) print(w io.Writer, o options, took time.Duration) {
	fmt.Fprintf(w, "\n## Throughput and latency (ours vs the bare net/http floor, same run, concurrency as shown)\n\n")
	fmt.Fprintln(w, "| scenario | ops | conc | ours /s | floor /s | ratio | ours p50 ms | ours p99 ms | floor p50 ms | floor p99 ms | ours allocs/op | ours B/op | floor allocs/op | floor B/op | Redis round trips/op | ours CPU µs/op | floor CPU µs/op | Redis CPU µs/op |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, x := range r.rows {
		rate, ratio := fmt.Sprintf("%.0f", x.ours.perSecond()), fmt.Sprintf("%.2f", x.ours.perSecond()/x.bare.perSecond())
		conc := fmt.Sprint(x.conc)
		if x.rate > 0 {
			conc = fmt.Sprintf("%d @ %.0f/s", x.conc, x.rate)
			ratio = fmt.Sprintf("p99 ×%.1f", float64(x.ours.pct(0.99))/float64(max(1, x.bare.pct(0.99))))
		}
		allocs := fmt.Sprintf("%.0f | %.0f | %.0f | %.0f", x.ourAlloc.objects, x.ourAlloc.bytes, x.bareAlloc.objects, x.bareAlloc.bytes)
		trips, redisCPU := "–", "–"
		if x.ourAlloc.trips > 0 {
			trips, redisCPU = fmt.Sprintf("%.2f", x.ourAlloc.trips), fmt.Sprintf("%.1f", x.ourAlloc.redisCPU*1e6)
		}
		cpu := fmt.Sprintf("%.1f | %.1f | %s", x.ourAlloc.cpu*1e6, x.bareAlloc.cpu*1e6, redisCPU)
		if x.delivery {
			allocs, trips, cpu = "– | – | – | –", "–", "– | – | –"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.name, x.ours.n, conc, rate, x.bare.perSecond(), ratio,
			ms(x.ours.pct(0.5)), ms(x.ours.pct(0.99)), ms(x.bare.pct(0.5)), ms(x.bare.pct(0.99)), allocs, trips, cpu)
	}
	fmt.Fprintf(w, "\n## Create: our own time (one at a time; each create beside the same body sent straight to the fake)\n\n")
	fmt.Fprintln(w, "| scenario | n | ours p50 ms | ours p99 ms | upstream p50 ms | upstream p99 ms | our own time p50 ms |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, c := range r.createRows {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s |\n", c.name, c.ours.n, ms(c.ours.pct(0.5)), ms(c.ours.pct(0.99)),
			ms(c.upstream.pct(0.5)), ms(c.upstream.pct(0.99)), ms(c.ours.pct(0.5)-c.upstream.pct(0.5)))
	}
	fmt.Fprintf(w, "\nToken calls to the identity platform: %d for %d creates (%.5f per create).\n", r.tokenCalls, r.creates, float64(r.tokenCalls)/float64(max(1, r.creates)))
	fmt.Fprintf(w, "\n## Memory (the server's process, before and after holding the items)\n\n")
	fmt.Fprintln(w, "| scenario | items | RSS before MiB | RSS after MiB | RSS per item KiB | live heap per item KiB (from the GC goal) | heap in use per item KiB |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, m := range r.mem {
		per := func(a, b float64) string { return fmt.Sprintf("%.2f", (b-a)/float64(m.n)/1024) }
		fmt.Fprintf(w, "| %s | %d %ss | %.1f | %.1f | %s | %s | %s |\n", m.name, m.n, m.item, mib(m.before.rss), mib(m.after.rss),
			per(float64(m.before.rss), float64(m.after.rss)), per(m.before.nextGC/2, m.after.nextGC/2), per(m.before.heapInuse, m.after.heapInuse))
	}
	fmt.Fprintf(w, "\nPeak resident memory of the memory-store verifier over the whole run (VmHWM): %.1f MiB.\n", mib(r.peakMemory))
	fmt.Fprintf(w, "Run took %s; flags: concurrency=%d callbacks=%d paced=%d@%.0f/s cycles=%d create-latency=%d pending=%d watchers=%d redis=%q redis-mode=%s memory=%t.\n",
		took.Round(time.Second), o.concurrency, o.callbacks, o.paced, o.rate, o.cycles, o.latency, o.pending, o.watchers, redact(o.redisURL), o.redisMode, o.memory)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// redact hides a password in a Redis URL.
func redact(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		return "redis://…" + u[at:]
	}
	return u
}
