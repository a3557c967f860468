package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// events opens the event stream at path as h's browser, with no client timeout; it is closed when the
// test ends.
func (h *Harness) Events(t *testing.T, path string) <-chan map[string]any {
	t.Helper()
	return ReadEvents(h.OpenEvents(t, path, nil))
}

// openEvents opens the event stream at path as h's browser with the extra header, and requires a 200
// event stream.
func (h *Harness) OpenEvents(t *testing.T, path string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.URL+path, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Jar: h.Browser.Jar}).Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return resp
}

// NextEvent returns the stream's next event, failing when it ends or none comes within 10 s.
func NextEvent(t *testing.T, events <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case e, ok := <-events:
		require.True(t, ok, "the stream ended early")
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return nil
	}
}

// LastEvent reads the stream to its end and returns its last event, failing when it stays open for 10 s:
// a stream must end after a final status.
func LastEvent(t *testing.T, events <-chan map[string]any) map[string]any {
	t.Helper()
	var last map[string]any
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				require.NotNil(t, last, "the stream ended without an event")
				return last
			}
			last = e
		case <-deadline:
			t.Fatal("the stream is still open 10 s after a final status")
			return nil
		}
	}
}

// ReadEvents parses `event: status` / `data:` pairs until the stream ends.
func ReadEvents(resp *http.Response) <-chan map[string]any {
	out := make(chan map[string]any, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 8<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "status":
				var v map[string]any
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v) == nil {
					out <- v
				}
			}
		}
	}()
	return out
}
