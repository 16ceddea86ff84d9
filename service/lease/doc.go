// Package lease gives one holder at a time the right to work on a named
// thing (a stream), with nothing but an object store as the coordinator:
// no database, no lock service.
//
// A lease is one small JSON object, _leases/NAME.json, taken and renewed
// with conditional writes. Acquire creates it with If-None-Match (a
// conditional create) or, when it exists and has expired or was released,
// replaces it with If-Match on the ETag it read (a conditional replace): of
// several replicas racing for the same lease exactly one write succeeds.
// The holder renews the lease the same way before it expires; a renewal
// that finds another ETag means someone else took the lease over, and the
// holder must stop (Hold cancels its context). A holder that dies simply
// stops renewing, and another takes over once the lease has expired.
//
// Expiry compares wall clocks of different machines: the holder gives up a
// tenth of the TTL before the expiry it wrote, so clocks may drift by that
// much without two holders working at once. A lease is an optimisation
// that keeps replicas from doing the same work; correctness never rests on
// it alone (logkeeper's manifests are created conditionally, so a chain
// cannot fork even if two holders overlapped).
//
// Every renewal writes a new version of the lease object on a versioned
// bucket. Keep the lease objects out of a bucket's default Object Lock
// retention (logkeeper locks what it archives object by object, so the
// bucket needs none), or expire noncurrent versions under _leases/ with a
// lifecycle rule.
package lease
