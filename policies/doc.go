// Package policies holds the rules that decide how archived objects are
// protected: the Object Lock retention each object gets, the KMS encryption
// context that binds each object to its stream, run and key, and the
// least-privilege IAM policy an exporter needs.
package policies
