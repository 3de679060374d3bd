// Package uerr defines the errors that carry an exit code and a hint for the user.
package uerr

import (
	"errors"
	"fmt"
)

// Exit codes, documented in the README.
const (
	ExitOK = 0
	// ExitFailed: the work ran and failed (a compile error, a check or a test that did not pass).
	ExitFailed = 1
	// ExitUsage: bad command line or bad input (missing folder, unknown target, not a project).
	ExitUsage = 2
	// ExitEnvironment: this machine lacks something (toolchain, container engine) and portabin could not provide it.
	ExitEnvironment = 3
	// ExitInterrupted: stopped by a signal.
	ExitInterrupted = 130
)

// Error is an error meant for the user: one line, an exit code and an optional hint.
type Error struct {
	Code int
	Msg  string
	Hint string
	// Detail is long output (a compiler's messages) shown after the line.
	Detail string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Usage returns a bad-input error.
func Usage(hint, format string, args ...any) *Error {
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// Env returns an error about something missing on this machine.
func Env(hint, format string, args ...any) *Error {
	return &Error{Code: ExitEnvironment, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// Failed returns an error for work that ran and failed; detail is the tool's own output.
func Failed(detail, format string, args ...any) *Error {
	return &Error{Code: ExitFailed, Msg: fmt.Sprintf(format, args...), Detail: detail}
}

// Code returns the exit code that err asks for.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitFailed
}

// HintOf returns the hint of the first *Error in err's chain.
func HintOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

// DetailOf returns the detail of the first *Error in err's chain.
func DetailOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return ""
}
