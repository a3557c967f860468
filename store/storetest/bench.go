package storetest

import (
	"testing"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// transitionBatch is how many requests BenchmarkTransition creates at a time, with the timer stopped.
const transitionBatch = 1000

// BenchmarkTransition measures one compare-and-swap state transition (created → retrieved) of a presentation
// request; the requests are created outside the timer. newStore is called once and must hold b.N records.
func BenchmarkTransition(b *testing.B, newStore func(b *testing.B) store.Store) {
	ctx := b.Context()
	s := newStore(b)
	ps := make([]*store.Presentation, 0, transitionBatch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%transitionBatch == 0 {
			b.StopTimer()
			ps = ps[:0]
			for range min(transitionBatch, b.N-i) {
				p := NewPresentation(10 * time.Minute)
				if err := s.CreatePresentation(ctx, p); err != nil {
					b.Fatal(err)
				}
				ps = append(ps, p)
			}
			b.StartTimer()
		}
		p := ps[i%transitionBatch]
		if _, err := s.UpdatePresentation(ctx, p.ID, retrieve); err != nil {
			b.Fatal(err)
		}
	}
}

// retrieve is the transition the benchmarks measure.
func retrieve(p *store.Presentation) ([]*store.Delivery, error) {
	p.Status = store.PresentationRetrieved
	return nil, nil
}

// BenchmarkRead measures reading a verified presentation request, claims included, by id.
func BenchmarkRead(b *testing.B, newStore func(b *testing.B) store.Store) {
	ctx := b.Context()
	s := newStore(b)
	p := NewPresentation(10 * time.Minute)
	if err := s.CreatePresentation(ctx, p); err != nil {
		b.Fatal(err)
	}
	p.Status, p.Issuer = store.PresentationVerified, "did:web:us.did.idemia.io"
	p.Claims = map[string]any{"firstName": "Megan", "lastName": "Bowen", "age": 35.0, "country": "US", "documentNumber": "X1234567"}
	if _, err := s.UpdatePresentation(ctx, p.ID, SetPresentation(p)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Presentation(ctx, p.ID); err != nil {
			b.Fatal(err)
		}
	}
}
