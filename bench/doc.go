// Package bench is the benchmark suite of sandboxauth: what the
// authentication costs on each router, and what the cache buys. It holds no
// library code; see bench_test.go for the micro-benchmarks
// (BenchmarkRoute/<framework>/<scenario>), package scenario for the handlers
// measured, cmd/loadtest for the loopback load command, and README.md for
// the commands and the results.
package bench
