package redis

import (
	"hash/fnv"
	"strconv"
)

// Buckets is the number of hash tags the records are spread over. Every key of one record (the record, its
// claims, its notification channel) and the outbox queue its deliveries join carry the record's tag, so each
// script touches one cluster slot; the fixed number of tags is what lets the outbox be a fixed number of
// queues, spread over the shards like the records.
const Buckets = 16

// A record is keyed by the value a callback reaches it by (a presentation's state, an IPA session's token
// hash), so the callback's read and its update are in the record's own slot; the record's id (Microsoft's
// requestId, IDEMIA's sessionId) leads to that value through a pointer key in the id's bucket, written once
// at create and cached in memory since it never changes.
//
// Layout (P is the prefix, {b} the bucket tag):
//
//	P p:{b}:<state>        presentation JSON          P pid:{b}:<id>  → state
//	P pc:{b}:<state>       its claims                  P iid:{b}:<id>  → token hash
//	P i:{b}:<token hash>   IPA session JSON
//	P j:{b}:<journey id>   journey JSON (journeys.go)   P jl:{b}:<launch hash> → journey id
//	P o:{b}:<owner hash>:<kind> → newest id of the browser's records of kind, its journey too (owners.go)
//	P w:{b}:<topic>        notification channel       P hb:{b}:<rand> pub/sub heartbeat channel
//	P dq:{b}               outbox queue (zset: id → next attempt)
//	P dd:{b}               outbox bodies (hash: id → "<end ms>|<JSON>")
//	P rl:<key>             rate-limit window           P ready:{b}     write probe and replication barrier
type keys struct{ prefix string }

// bucketOf maps a value to its bucket.
func bucketOf(v string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(v))
	return int(h.Sum32() % Buckets)
}

// tag is bucket b's hash tag.
func tag(b int) string { return "{ev" + strconv.Itoa(b) + "}" }

func (k keys) in(kind string, b int, name string) string {
	return k.prefix + kind + ":" + tag(b) + ":" + name
}

func (k keys) presentation(state string) string { return k.in("p", bucketOf(state), state) }
func (k keys) claims(state string) string       { return k.in("pc", bucketOf(state), state) }
func (k keys) presentationID(id string) string  { return k.in("pid", bucketOf(id), id) }
func (k keys) session(tokenHash string) string  { return k.in("i", bucketOf(tokenHash), tokenHash) }
func (k keys) sessionID(id string) string       { return k.in("iid", bucketOf(id), id) }
func (k keys) channel(b int, topic string) string {
	return k.in("w", b, topic)
}
func (k keys) heartbeat(b int, name string) string { return k.in("hb", b, name) }
func (k keys) queue(b int) string                  { return k.prefix + "dq:" + tag(b) }
func (k keys) bodies(b int) string                 { return k.prefix + "dd:" + tag(b) }
func (k keys) limit(key string) string             { return k.prefix + "rl:" + key }
func (k keys) probe(b int) string                  { return k.prefix + "ready:" + tag(b) }
