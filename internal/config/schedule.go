package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// scheduleParser accepts five fields, or six with leading seconds, and
// descriptors such as @hourly and @every 15m.
var scheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a stream's cron spec the way the loader validates
// it: five fields ("0 * * * *"), six with leading seconds, or a descriptor
// ("@hourly", "@every 15m"). The schedule runs in UTC unless the spec starts
// with CRON_TZ=ZONE (or TZ=ZONE) and a space, so that every host computes
// the same windows whatever its local time zone.
func ParseSchedule(spec string) (sched cron.Schedule, err error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		// cron v3.0.1 panics on a zone prefix with nothing after it.
		if !strings.Contains(spec, " ") {
			return nil, errors.New("a time zone prefix must be followed by a space and a schedule")
		}
	} else {
		spec = "CRON_TZ=UTC " + spec
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	return scheduleParser.Parse(spec)
}

// SchedulePeriod returns the period of a schedule, the default length of
// a stream's window: the delay of "@every D", and for a cron spec the
// shortest interval between consecutive firings over two years from the Unix
// epoch (one hour for "@hourly" and "0 5 * * * *", 8h for "0 9,17 * * *",
// 28 days for "@monthly"), so that every firing closes at least one
// window. A schedule that fires less than twice in that span gets
// DefaultWindow.
func SchedulePeriod(sched cron.Schedule) time.Duration {
	if c, ok := sched.(cron.ConstantDelaySchedule); ok {
		return c.Delay
	}
	const maxFirings = 10_000 // bounds the loop for every-second specs
	start := time.Unix(0, 0).UTC()
	end := start.AddDate(2, 0, 1)
	var period time.Duration
	prev := sched.Next(start)
	for range maxFirings {
		next := sched.Next(prev)
		if next.IsZero() || next.After(end) {
			break
		}
		if gap := next.Sub(prev); period == 0 || gap < period {
			period = gap
		}
		prev = next
	}
	if period <= 0 {
		return DefaultWindow
	}
	return period
}
