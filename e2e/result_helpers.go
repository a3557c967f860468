package e2e

import "net/http"

// Snapshot returns copies of the attempts the Receiver has seen (their headers) and of the events it
// accepted, for tests outside this package (result's hand-off tests).
func (r *Receiver) Snapshot() (attempts []http.Header, accepted []map[string]any) {
	return r.snapshot()
}

// SetFailures makes the Receiver answer 500 until it has seen n attempts in all (0: accept from now on).
func (r *Receiver) SetFailures(n int) { r.setFailures(n) }
