// Package sandbox holds faithful local fakes of the remote services the verifier talks to: the Microsoft
// identity platform and Entra Verified ID Request Service, and IDEMIA's Cognito, IPA and ID&V (GIPS)
// endpoints. They speak the documented contracts (SPEC.md, fixtures) over real HTTP; tests serve them
// with httptest.NewTLSServer, and --sandbox serves them on loopback.
package sandbox
