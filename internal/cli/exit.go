package cli

import (
	"context"
	"errors"
)

// Exit codes: one table for every command (the README shows it).
const (
	// ExitOK: the command did what was asked.
	ExitOK = 0
	// ExitProblems: problems were found (verify), or a run was partial
	// (some files could not be archived).
	ExitProblems = 1
	// ExitUsage: bad flags or arguments, or a configuration problem,
	// including a missing or unreadable key file.
	ExitUsage = 2
	// ExitIncomplete: the command could not complete (a store, KMS or
	// source could not be reached).
	ExitIncomplete = 3
	// ExitInterrupted: stopped by SIGINT or SIGTERM.
	ExitInterrupted = 130
)

// exitError carries the exit code of an error a command returns.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Usage marks err as a usage or configuration problem (exit 2).
func Usage(err error) error { return mark(ExitUsage, err) }

// Problems marks err as problems found or a partial run (exit 1).
func Problems(err error) error { return mark(ExitProblems, err) }

// Incomplete marks err as a command that could not complete (exit 3).
// An error a command returns unmarked counts as Incomplete too.
func Incomplete(err error) error { return mark(ExitIncomplete, err) }

// Reported returns the error of a command that has printed what went
// wrong (the problems verify found, config check's list): it sets the
// exit code and prints nothing more.
func Reported(code int) error { return &exitError{code: code, err: errReported} }

var errReported = errors.New("reported")

func mark(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// ExitCode returns the exit code for err, the error of a command run with
// ctx: ExitInterrupted when ctx was cancelled (a signal), otherwise the
// code err was marked with, ExitIncomplete when unmarked.
func ExitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitIncomplete
}
