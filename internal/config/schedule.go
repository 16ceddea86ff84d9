package config

import (
	"errors"
	"fmt"
	"strings"

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
