// Package cli is the one command-line convention every logkeeper command
// follows, so that a new command gets it by construction:
//
//   - global flags on every command: --log-level (debug, info, warn,
//     error), --log-format text|json (text when stderr is a terminal, JSON
//     otherwise), --json for results, -h/--help and --version;
//   - usage text generated from the flag definitions, with an example per
//     command, so it cannot drift from what the command accepts;
//   - one exit code table ([ExitOK] ... [ExitInterrupted]) chosen from the
//     error a command returns ([Usage], [Problems], [Incomplete]);
//   - friendly mistakes: an unknown flag reported once, as typed; a
//     positional argument that looks like a configuration file hints at -c;
//   - text output that escapes every string it prints ([Escape]), so
//     strings read from a store cannot draw fake lines or terminal escapes;
//   - human units ([Size], [Rate], [Count]) and a live progress display on
//     stderr ([Env.Progress]) only when stderr is a terminal and --json is
//     not set.
//
// The package knows nothing about logkeeper's business: commands are
// defined in cmd/logkeeper and call the packages that do the work.
package cli
