package web_test

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/verifier"
)

// ownedRecords is a fake of both domains that, like the real ones, answers a record only to the browser
// whose owner hash created it: every record is pending (never final), so its event stream stays open.
type ownedRecords struct {
	mu      sync.Mutex
	owners  map[string]string // record id → owner hash
	created []string          // owner hashes of the creates, in order
	reads   []string          // owner hashes of the reads, in order
}

func newOwnedRecords() *ownedRecords { return &ownedRecords{owners: map[string]string{}} }

// add records id as created by the browser whose owner hash is owner.
func (f *ownedRecords) add(id, owner string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owners[id] = owner
}

// read returns an error unless id exists and belongs to owner.
func (f *ownedRecords) read(id, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, owner)
	if o, ok := f.owners[id]; !ok || owner == "" || !store.SameOwner(o, owner) {
		return store.ErrNotFound
	}
	return nil
}

func (f *ownedRecords) lastCreateOwner() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created[len(f.created)-1]
}

func (f *ownedRecords) lastReadOwner() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads[len(f.reads)-1]
}

// ownedPresentations is the Presentations side of f.
type ownedPresentations struct{ *ownedRecords }

func (f ownedPresentations) Create(_ context.Context, owner, _ string) (*store.Presentation, error) {
	f.mu.Lock()
	f.created = append(f.created, owner)
	id := "req-" + strconv.Itoa(len(f.created))
	f.owners[id] = owner
	f.mu.Unlock()
	p := pRecord
	p.ID, p.Status, p.Claims = id, store.PresentationCreated, nil
	return &p, nil
}

func (f ownedPresentations) Get(_ context.Context, id, owner string) (*store.Presentation, error) {
	if err := f.read(id, owner); err != nil {
		return nil, err
	}
	p := pRecord
	p.ID, p.Status, p.Claims, p.ExpiresAt = id, store.PresentationCreated, nil, farFuture
	return &p, nil
}

func (f ownedPresentations) HandOff(context.Context, string, string) (*store.Presentation, error) {
	return nil, store.ErrNotFound
}

func (ownedPresentations) HandleCallback(context.Context, string, []byte) (verifier.Outcome, error) {
	return verifier.Outcome{}, errors.New("not in this fake")
}

// ownedSessions is the Sessions side of f.
type ownedSessions struct{ *ownedRecords }

func (f ownedSessions) Create(_ context.Context, owner string) (*store.IPASession, error) {
	f.mu.Lock()
	f.created = append(f.created, owner)
	f.mu.Unlock()
	s := sRecord
	s.Status = store.IPAPending
	return &s, nil
}

func (f ownedSessions) Get(_ context.Context, id, owner string) (*store.IPASession, error) {
	if err := f.read(id, owner); err != nil {
		return nil, err
	}
	s := sRecord
	s.ID, s.Status, s.Identity, s.ExpiresAt = id, store.IPAPending, nil, farFuture
	return &s, nil
}

func (ownedSessions) HandleCallback(context.Context, string, []byte) (ipa.Outcome, error) {
	return ipa.Outcome{}, errors.New("not in this fake")
}

// farFuture keeps the fakes' records from expiring while a test runs, whatever the server's clock.
var farFuture = now.AddDate(100, 0, 0)
