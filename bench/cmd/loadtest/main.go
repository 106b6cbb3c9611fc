// Command loadtest measures sandboxauth on real loopback HTTP servers: for
// each framework (net/http ServeMux, chi, gin, echo) and scenario (bare
// route, in-memory store, cache, rejection, a store with 200 µs of latency
// with and without the cache, echo's KeyAuth) it starts an http.Server on
// 127.0.0.1, drives it with a bounded number of keep-alive clients for a
// bounded time, and reports req/s, p50 and p99 per cell. Cells are
// interleaved in shuffled rounds, because the machines are noisy. It writes
// results.md (a markdown table) and chart.svg (a grouped bar chart) into the
// output folder.
//
// Usage, from the repository root:
//
//	go run ./bench/cmd/loadtest [-duration 1s] [-rounds 3] [-clients 8] [-out bench/results]
//
// Every loop is bounded: per cell and round at most -duration (after
// -warmup) and -max-requests requests, each request at most 5 s.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/sandboxauth/sandboxauth/bench/scenario"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// run parses args, runs the load test and writes the outputs.
func run(args []string, progress io.Writer) error {
	cfg, out, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := Run(ctx, cfg, progress)
	if err != nil {
		return err
	}
	command := "go run ./bench/cmd/loadtest"
	if len(args) > 0 {
		command += " " + strings.Join(args, " ")
	}
	if err := WriteOutputs(rep, out, command); err != nil {
		return err
	}
	fmt.Fprintf(progress, "wrote %s and %s\n", filepath.Join(out, "results.md"), filepath.Join(out, "chart.svg"))
	return nil
}

// parseFlags turns the command line into a Config and an output folder.
func parseFlags(args []string) (Config, string, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "measured time per cell and round")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "unmeasured time per cell and round, before -duration")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "passes over all cells, each in a new shuffled order")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent keep-alive clients per cell")
	fs.Int64Var(&cfg.MaxRequests, "max-requests", cfg.MaxRequests, "measured requests per cell and round, at most")
	fs.DurationVar(&cfg.Latency, "latency", cfg.Latency, "simulated store latency of the slow scenarios")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the order of cells in each round")
	fs.IntVar(&cfg.AllocRuns, "alloc-runs", cfg.AllocRuns, "in-process runs to count allocations per request (0: skip)")
	frameworks := fs.String("frameworks", "all", "comma-separated frameworks: "+join(scenario.Frameworks()))
	scenarios := fs.String("scenarios", "all", "comma-separated scenarios: "+join(scenario.Scenarios()))
	out := fs.String("out", defaultOut(), "folder for results.md and chart.svg")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	cfg.Frameworks = pick(*frameworks, scenario.Frameworks())
	cfg.Scenarios = pick(*scenarios, scenario.Scenarios())
	if *out == "" {
		return cfg, "", errors.New("empty -out")
	}
	return cfg, *out, cfg.validate()
}

// defaultOut is bench/results from the repository root, results from the
// bench folder.
func defaultOut() string {
	if _, err := os.Stat(filepath.Join("bench", "go.mod")); err == nil {
		return filepath.Join("bench", "results")
	}
	return "results"
}

func join[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

// pick parses a comma-separated list; "all" is every name in all.
func pick[T ~string](list string, all []T) []T {
	if strings.TrimSpace(list) == "all" {
		return all
	}
	var out []T
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, T(s))
		}
	}
	return out
}

// WriteOutputs writes results.md and chart.svg into dir, creating it.
func WriteOutputs(rep *Report, dir, command string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(rep.Markdown(command)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "chart.svg"), []byte(rep.SVG()), 0o644)
}
