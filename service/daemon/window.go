package daemon

import "time"

// epoch is where window boundaries start, and where the first window of
// every chain begins.
var epoch = time.Unix(0, 0).UTC()

// Floor returns the latest window boundary at or before t: the greatest
// multiple of window since the Unix epoch, in UTC.
func Floor(t time.Time, window time.Duration) time.Time {
	ns, w := t.UnixNano(), int64(window)
	q := ns / w
	if ns%w < 0 {
		q--
	}
	return time.Unix(0, q*w).UTC()
}

// NextEnd returns the end of the next window to archive after the
// watermark (the end of the last archived window; archived is false for
// an empty chain), and whether that window is complete at now.
//
// For an empty chain it is the latest boundary at or before now. Otherwise
// it is the first boundary after the watermark.
func NextEnd(watermark time.Time, archived bool, window time.Duration, now time.Time) (time.Time, bool) {
	if !archived {
		end := Floor(now, window)
		return end, end.After(epoch)
	}
	end := Floor(watermark, window).Add(window)
	return end, !end.After(now)
}

// Pending returns how many complete windows after the watermark are not
// archived yet at now.
func Pending(watermark time.Time, archived bool, window time.Duration, now time.Time) int64 {
	end, ok := NextEnd(watermark, archived, window, now)
	if !ok {
		return 0
	}
	if !archived {
		return 1
	}
	return 1 + int64(Floor(now, window).Sub(end)/window)
}
