package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// bareCommand is the argument under which this program runs as the bare baseline server.
const bareCommand = "bare-server"

// serveBare runs the floor the verifier is compared with: a bare net/http server that decodes a JSON body
// and answers 204 (POST /callback, POST /fire/{id}), and an equally bare event stream (GET /sse/{id})
// that sends one event on connect and one when /fire/{id} is called. It prints its address, then serves
// until it is killed.
func serveBare(out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, ln.Addr().String())
	var mu sync.Mutex
	streams := map[string]chan struct{}{}
	decode := func(w http.ResponseWriter, r *http.Request) bool {
		var v map[string]any
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return false
		}
		return true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /callback", func(w http.ResponseWriter, r *http.Request) {
		if decode(w, r) {
			w.WriteHeader(http.StatusNoContent)
		}
	})
	mux.HandleFunc("POST /fire/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !decode(w, r) {
			return
		}
		mu.Lock()
		ch := streams[r.PathValue("id")]
		mu.Unlock()
		if ch != nil {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /sse/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, ch := r.PathValue("id"), make(chan struct{}, 1)
		mu.Lock()
		streams[id] = ch
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(streams, id)
			mu.Unlock()
		}()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: status\ndata: {\"requestId\":%q,\"status\":\"created\"}\n\n", id)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-ch:
		}
		fmt.Fprintf(w, "event: status\ndata: {\"requestId\":%q,\"status\":\"retrieved\"}\n\n", id)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "go_memstats_mallocs_total %d\ngo_memstats_alloc_bytes_total %d\ngo_memstats_heap_inuse_bytes %d\ngo_memstats_next_gc_bytes %d\n",
			m.Mallocs, m.TotalAlloc, m.HeapInuse, m.NextGC)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	return srv.Serve(ln)
}
