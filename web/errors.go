package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// Error is what a client sees; Err is the cause, logged and never sent.
type Error struct {
	Status        int
	Code, Message string
	Err           error
}

// Error describes the answer and its cause, for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errorMap turns the domain's sentinel errors into answers, first match wins.
var errorMap = []struct {
	target error
	answer Error
}{
	{store.ErrNotFound, Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such request"}},
	{verifier.ErrMalformed, Error{Status: http.StatusBadRequest, Code: "malformed", Message: "the body is not a valid callback"}},
	{verifier.ErrUnauthorized, Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing or wrong api-key"}},
	{verifier.ErrHandedOff, Error{Status: http.StatusGone, Code: "already_returned", Message: "this result was already handed over; start again"}},
	{verifier.ErrToken, Error{Status: http.StatusBadGateway, Code: "upstream_error", Message: "Microsoft Entra is not available right now; try again shortly"}},
	{verifier.ErrUpstream, Error{Status: http.StatusBadGateway, Code: "upstream_error", Message: "Microsoft Entra is not available right now; try again shortly"}},
	{ipa.ErrMalformed, Error{Status: http.StatusBadRequest, Code: "malformed", Message: "the body is not a valid notification"}},
	{ipa.ErrForbidden, Error{Status: http.StatusForbidden, Code: "forbidden", Message: "the notification does not belong to this session"}},
	{ipa.ErrUpstream, Error{Status: http.StatusBadGateway, Code: "upstream_error", Message: "IDEMIA is not available right now; try again shortly"}},
	{store.ErrConflict, Error{Status: http.StatusServiceUnavailable, Code: "busy", Message: "the request is being updated; try again shortly"}},
	{store.ErrFull, Error{Status: http.StatusServiceUnavailable, Code: "busy", Message: "too many requests in progress; try again shortly"}},
	{store.ErrUnavailable, Error{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: "the service is temporarily unavailable; try again shortly"}},
}

// errExpired answers a QR code asked for after its request or session expired.
var errExpired = &Error{Status: http.StatusGone, Code: "expired", Message: "this request has expired; start a new one"}

// errTooManyStreams answers an event stream beyond VERIFIER_STREAMS_PER_BROWSER.
var errTooManyStreams = &Error{Status: http.StatusTooManyRequests, Code: "too_many_streams",
	Message: "this browser has too many open event streams; close one and try again"}

// timeoutAnswer is the answer when an upstream call timed out, whatever service it was.
var timeoutAnswer = Error{Status: http.StatusGatewayTimeout, Code: "timeout", Message: "an upstream service did not answer in time; try again shortly"}

// isTimeout reports whether err is, or wraps, a deadline or a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// errorCodeKey holds, in the gin context, the code of the error a request was answered with.
const errorCodeKey = "verifier.error_code"

// writeError is the only place that turns an error into an HTTP answer.
func writeError(c *gin.Context, err error) {
	ctx := c.Request.Context()
	var e *Error
	if !errors.As(err, &e) && isTimeout(err) && !errors.Is(err, store.ErrUnavailable) {
		answer := timeoutAnswer
		answer.Err = err
		e = &answer
	}
	if e == nil {
		for _, m := range errorMap {
			if errors.Is(err, m.target) {
				answer := m.answer
				answer.Err = err
				e = &answer
				break
			}
		}
	}
	if e == nil {
		e = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error", Err: err}
	}
	c.Set(errorCodeKey, e.Code) // for the access log and metrics
	switch {
	case e.Status >= 500:
		slog.ErrorContext(ctx, "request failed", "status", e.Status, "code", e.Code, "err", e.Err)
	case e.Err != nil:
		slog.InfoContext(ctx, "request refused", "status", e.Status, "code", e.Code, "err", e.Err)
	}
	if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests {
		if c.Writer.Header().Get("Retry-After") == "" {
			c.Header("Retry-After", "5")
		}
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(e.Status, gin.H{"error": gin.H{"code": e.Code, "message": e.Message}})
}
