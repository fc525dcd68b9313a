// Package deps holds the evidence of OPS-03 in its tests: every Go module
// the build uses is pinned by a hash in go.sum, every npm package of the
// cdk-nag checks by an integrity hash in infra/cdk/nag/package-lock.json,
// and `make vuln` says plainly that nothing was scanned, and fails, when
// govulncheck or its vulnerability database cannot be reached.
//
// The tests never need the network: they point the module proxy and the
// vulnerability database at a closed port on 127.0.0.1.
package deps
