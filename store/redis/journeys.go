package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// Journeys in Redis, in the buckets of keys.go (P is the prefix, {b} a bucket tag):
//
//	P j:{b}:<journeyId>    the journey's JSON record, in its id's bucket, expiring at Journey.DropAt (moved by
//	                       updates); its deliveries join that bucket's outbox queue, its channel is there too
//	P jl:{b}:<launchHash>  launch index: the journey's id, in the launch hash's bucket
//
// The journey a browser was last bound to is in the owner index (owners.go), as store.KindJourney.
//
// Like a record's id pointer, the launch index is written (SET NX) before the record it names, so a crash in
// between leaves an index to nothing, which reads as store.ErrNotFound, never a record without its index.
// The records of a journey's steps keep their own layout; the journey reaches them by the ids it points at,
// and they reach it by the JourneyRef they carry.

func (k keys) journey(id string) string         { return k.in("j", bucketOf(id), id) }
func (k keys) journeyLaunch(hash string) string { return k.in("jl", bucketOf(hash), hash) }

// CreateJourney implements store.Store: the launch index first, then the record with its outbox.
func (s *Store) CreateJourney(ctx context.Context, j *store.Journey, outbox ...*store.Delivery) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rec, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("redis store: create journey: %w", err)
	}
	b := bucketOf(j.ID)
	return s.create(ctx, "create journey", s.keys.journeyLaunch(j.LaunchHash), j.ID,
		[]string{s.keys.journey(j.ID), s.keys.queue(b), s.keys.bodies(b)}, rec, j.DropAt(), nil, time.Time{}, outbox)
}

// Journey implements store.Store.
func (s *Store) Journey(ctx context.Context, id string) (*store.Journey, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	return s.journey(ctx, id)
}

func (s *Store) journey(ctx context.Context, id string) (*store.Journey, error) {
	j, err := getJSON[store.Journey](ctx, s, "journey", s.keys.journey(id))
	if err != nil {
		return nil, err
	}
	if j.ID != id || !s.now().Before(j.DropAt()) { // a server clock running late
		return nil, fmt.Errorf("redis store: read journey: %w", store.ErrNotFound)
	}
	return j, nil
}

// JourneyByLaunch implements store.Store.
func (s *Store) JourneyByLaunch(ctx context.Context, launchHash string) (*store.Journey, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	id, err := s.rdb.Get(ctx, s.keys.journeyLaunch(launchHash)).Result()
	if err != nil {
		return nil, wrap(ctx, "read journey by launch token", err)
	}
	j, err := s.journey(ctx, id)
	if err == nil && j.LaunchHash != launchHash {
		return nil, fmt.Errorf("redis store: read journey by launch token: %w", store.ErrNotFound)
	}
	return j, err
}

// UpdateJourney implements store.Store: read, apply fn, compare-and-swap (moving the record's expiry to its
// new drop time), and again after a lost race.
func (s *Store) UpdateJourney(ctx context.Context, id string, fn store.JourneyUpdater) (*store.Journey, error) {
	const op = "update journey"
	ctx, cancel := s.call(ctx)
	defer cancel()
	b := bucketOf(id)
	return optimistic(ctx, op, nil, func() (*store.Journey, error) { return s.journey(ctx, id) }, fn,
		func(next, cur *store.Journey, outbox []*store.Delivery) error {
			next.ID, next.LaunchHash, next.Version = cur.ID, cur.LaunchHash, cur.Version+1
			rec, err := json.Marshal(next)
			if err != nil {
				return fmt.Errorf("redis store: %s: %w", op, err)
			}
			return s.update(ctx, op, b, []string{s.keys.journey(id), "", ""}, cur.Version, rec,
				store.JourneyTopic(id), nil, time.Time{}, next.DropAt(), outbox)
		},
		func(*store.Journey) error { return s.settle(ctx, b) })
}
