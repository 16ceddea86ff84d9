package policies

import (
	"fmt"
	"time"
)

// Object Lock modes.
const (
	Governance = "GOVERNANCE"
	Compliance = "COMPLIANCE"
)

// Retention is an Object Lock policy: every object stored under it is
// locked in Mode until RetainDays days after it was stored.
type Retention struct {
	Mode       string
	RetainDays int
}

// Validate checks the mode and the number of days.
func (r Retention) Validate() error {
	if r.Mode != Governance && r.Mode != Compliance {
		return fmt.Errorf("object lock mode %q: must be %s or %s", r.Mode, Governance, Compliance)
	}
	if r.RetainDays <= 0 {
		return fmt.Errorf("object lock retain days %d: must be positive", r.RetainDays)
	}
	return nil
}

// Until returns the retain-until date for an object stored at now: now
// plus RetainDays, rounded up to the next whole second, in UTC.
func (r Retention) Until(now time.Time) time.Time {
	t := now.UTC().Add(time.Duration(r.RetainDays) * 24 * time.Hour)
	if t2 := t.Truncate(time.Second); t2.Before(t) {
		t = t2.Add(time.Second)
	}
	return t
}
