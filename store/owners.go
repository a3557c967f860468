package store

import (
	"context"
	"time"
)

// Kind names one kind of record a browser creates, for the owner index (Owners).
type Kind string

// The kinds of record the owner index keeps the newest of.
const (
	KindIPASession   Kind = "ipa"
	KindPresentation Kind = "presentation"
	// KindJourney is the backend journey a launch link put the browser in.
	KindJourney Kind = "journey"
)

// Owners is the owner index: for each browser (binding-cookie hash) and kind, the ID of the newest record
// that browser created, so its page can resume after a reload or a return from another app (SPEC section 4,
// GET /api/journey). It holds IDs only; readers still read the record and check its owner.
type Owners interface {
	// SetNewest records id as the newest record of kind created by the browser whose owner hash is
	// ownerHash, replacing the one before, and keeps the entry until until (the record's retention end).
	SetNewest(ctx context.Context, ownerHash string, kind Kind, id string, until time.Time) error
	// Newest returns the ID SetNewest last recorded for ownerHash and kind; ErrNotFound when there is none
	// or its until has passed.
	Newest(ctx context.Context, ownerHash string, kind Kind) (string, error)
}
