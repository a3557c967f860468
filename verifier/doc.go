// Package verifier is the Microsoft Entra Verified ID presentation half: it acquires Request Service tokens
// with MSAL Go, creates presentation requests asking for IDEMIA's VerifiedIdentity credential, and validates
// Microsoft's callbacks (authenticity, consistency with the stored request, and our own policy) before
// moving a request through its states.
package verifier
