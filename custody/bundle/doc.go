// Package bundle defines the discovery bundle: a self-contained folder of
// archived files, each with an RFC 6962 inclusion proof against its
// manifest's Merkle root, the signed manifests that cover them and the
// public key, which a third party verifies offline.
//
// The package is pure logic over a folder: it builds inclusion proofs and
// verifies a bundle, and never touches a store or the network, so that
// others can embed the verifier. Writing a bundle from a store is
// custody.WriteBundle.
//
// A verifier trusts nothing in the bundle but the manifests' signatures:
// index.json only says where things are. Every file is checked against the
// object its signed manifest lists, every proof against that manifest's
// root, and every path is opened inside the bundle folder only.
package bundle
