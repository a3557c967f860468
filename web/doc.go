// Package web is the HTTP face of the verifier: the gin engine with our API routes (SPEC section 4), its
// middleware (request id, access log, security headers, body limits, same-origin checks, recovery), the
// creator-binding cookie, Server-Sent Events, QR codes, metrics, and the one place errors become answers.
package web
