// Package e2e holds end-to-end tests: export runs and verification against
// every store implementation, including a tamper matrix in which each
// change to an archive must be caught and named by verify.
package e2e
