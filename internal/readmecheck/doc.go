// Package readmecheck holds the test that keeps README.md honest: every Go
// snippet in it is a part of an Example that go test compiles and runs, and
// each module's README section appears in the root README unchanged.
package readmecheck
