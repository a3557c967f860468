package web

import "net/http"

// otherMethod is the label of every HTTP method that is not a standard one.
const otherMethod = "other"

// methodLabel is method as a metric label and log field: one of the nine standard methods (RFC 9110 and
// PATCH), or "other", so a client inventing methods cannot grow the label set or the logs' vocabulary.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return otherMethod
}
