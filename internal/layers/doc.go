// Package layers holds no code: its test checks the module's layering, so
// that a reader can draw the layers from the folder list.
//
//	cmd      flags, exit codes, output: wires, holds no business logic
//	service  orchestration: configuration wiring, daemon, leases
//	export, custody
//	         the jobs: one export run; the chain of custody and verify
//	manifest, policies, internal
//	         pure logic and providers: manifest format, policies, store,
//	         signing, configuration, metrics
//
// A package may import only packages of its own or a lower layer, and no
// two top-level folders may import each other, directly or through others
// (internal/ counted as one folder). Test-only imports are not counted.
package layers
