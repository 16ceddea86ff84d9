// Package daemon runs logkeeper's scheduled archival: `logkeeper run`.
//
// Each stream with a schedule gets a cron entry (robfig/cron/v3, in UTC
// unless the spec says CRON_TZ=). A tick of a stream archives consecutive
// windows of the stream's window length:
//
//   - The watermark is the end of the window of the stream's newest
//     manifest, read from the chain of custody in the store (custody.Resume,
//     which starts from the stream's signed start-up state when it checks
//     out and checks the chain's head before anything is appended to it).
//     The daemon keeps no state of its own: a restarted daemon, or another
//     replica, continues exactly where the chain ends.
//   - Windows are aligned to multiples of the window length since the Unix
//     epoch, in UTC. The next window ends at the first boundary after the
//     watermark, so a chain whose last window ended off a boundary (a
//     manual `logkeeper export`) is brought back into line by one shorter
//     window.
//   - A tick archives every complete window (end <= now) after the
//     watermark, in order, at most Setup.MaxBackfill of them; the rest
//     follow at the next ticks. After downtime the missed windows are
//     caught up this way, and none is ever skipped: a window whose run
//     fails is retried at the next tick, before any later one.
//   - The first run of an empty chain covers everything up to the latest
//     window boundary at or before now (its window starts at the Unix
//     epoch, as the first window of every chain does); later runs follow
//     window by window.
//
// Runs of one stream never overlap: a tick that finds the previous one
// still running is skipped (cron.SkipIfStillRunning semantics), and a
// panic in a tick is recovered, logged with its stack and counted
// (cron.Recover semantics). RunOnce runs one tick of every stream with the
// same code, for cron-driven or one-shot use.
//
// Several replicas may run one configuration: each tick first takes the
// stream's lease (package lease) and a replica that finds it held skips
// the tick, so each stream runs on one replica at a time, and ticks spread
// the streams over the replicas. The lease is renewed while the tick runs
// and released after it; a run whose lease is lost is cancelled. The
// conditional create of each manifest remains the last line of defence:
// even overlapping runs cannot fork a chain.
//
// Shutdown (Run's context cancelled, on SIGTERM or SIGINT): scheduling
// stops, no new window is started, running exports may finish for
// Setup.GracePeriod, then they are cancelled. A cancelled export aborts its
// uploads and writes no manifest; the next run redoes its window. A reload
// (Run's reload channel, on SIGHUP) loads the configuration again; a
// configuration with problems is reported, problem by problem, and the old
// one is kept.
package daemon
