// Package journey runs the journeys a relying party's backend starts (SPEC section 9): their creation and
// launch link, the one browser that opens it, the steps the page creates for them, their status as derived
// from the records of those steps, identity and proof retrieval, and their expiry.
//
// Consistency: a journey record points at the newest attempt of each step. The pointer is set (by a
// compare-and-swap on the journey) after the upstream answered and before the step's record is stored, so
// every stored record of a journey was once its newest attempt; it moves on only from an attempt that ended
// badly (or whose record never appeared within store.StepGrace). The final step's own transition completes
// the journey (JourneyRef.CompletedAt, journey.completed in the same outbox); the journey's expiry timer
// first marks that step record Ended (refused once it completed), then the journey Outcome expired (with
// journey.expired). Each decision is one compare-and-swap on one record, so a journey ends once, one way, and
// no crash leaves its status behind its steps: the status is read from the records, never copied.
package journey
