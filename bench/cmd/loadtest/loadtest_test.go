package main

import (
	"context"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandboxauth/sandboxauth/bench/scenario"
)

func TestPercentile(t *testing.T) {
	var xs []time.Duration
	for i := 1; i <= 100; i++ {
		xs = append(xs, time.Duration(i)*time.Microsecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Microsecond}, {99, 99 * time.Microsecond}, {100, 100 * time.Microsecond}, {1, time.Microsecond}, {0.5, time.Microsecond}} {
		if got := Percentile(xs, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	three := []time.Duration{1, 2, 30}
	if got := Percentile(three, 50); got != 2 {
		t.Errorf("p50 of 3 = %v, want 2", got)
	}
	if got := Percentile(three, 99); got != 30 {
		t.Errorf("p99 of 3 = %v, want 30", got)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 1: 1, 1.2: 2, 3: 5, 7: 10, 34000: 50000, 12000: 20000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

// fakeReport is a report with known numbers.
func fakeReport() *Report {
	cfg := DefaultConfig()
	cfg.Frameworks = []scenario.Framework{scenario.Stdlib, scenario.Echo}
	cfg.Scenarios = []scenario.Scenario{scenario.Bare, scenario.Cached, scenario.KeyAuth}
	cell := func(fw scenario.Framework, sc scenario.Scenario, req int64, allocs float64) *CellResult {
		return &CellResult{Framework: fw, Scenario: sc, Requests: req, Elapsed: time.Second, Rounds: []float64{float64(req)},
			P50: 150 * time.Microsecond, P99: 12 * time.Millisecond, Allocs: allocs}
	}
	return &Report{
		Config: cfg, Machine: Machine{CPU: "Test <CPU> & co", CPUs: 2, GoVersion: "go1.x", OS: "linux", Arch: "amd64", LoadStart: "0.5 0.5 0.5"},
		LoadEnd: "0.6 0.6 0.6", Started: time.Unix(0, 0), Finished: time.Unix(10, 0),
		Cells: []*CellResult{
			cell(scenario.Stdlib, scenario.Bare, 20000, 2), cell(scenario.Stdlib, scenario.Cached, 18000, 4),
			cell(scenario.Echo, scenario.Bare, 40000, 1), cell(scenario.Echo, scenario.Cached, 30000, 5),
			cell(scenario.Echo, scenario.KeyAuth, 10000, 5),
		},
	}
}

func TestMarkdown(t *testing.T) {
	md := fakeReport().Markdown("go run ./bench/cmd/loadtest -x")
	for _, want := range []string{
		"`go run ./bench/cmd/loadtest -x`",
		"Test <CPU> & co, 2 CPUs, go1.x, linux/amd64",
		"0.5 0.5 0.5 at start, 0.6 0.6 0.6 at end",
		"| scenario | stdlib | echo |",
		"| cached | 0.90× | 0.75× |",
		"| keyauth | | 0.25× |",
		"| stdlib | cached | 18000 | 0.90× | 18000 | 150 µs | 12.0 ms | 4 | +2 | 0 |",
		"| echo | keyauth | 10000 | 0.25× | 10000 | 150 µs | 12.0 ms | 5 | +4 | 0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// checkSVG parses svg as XML and returns the number of <rect> bars with a
// <title> (one per cell) and every text.
func checkSVG(t *testing.T, svg string) (bars int, text string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var sb strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "title" {
				bars++
			}
		case xml.CharData:
			sb.Write(tok)
			sb.WriteString("\n")
		}
	}
	return bars, sb.String()
}

func TestSVG(t *testing.T) {
	svg := fakeReport().SVG()
	if !strings.HasPrefix(svg, "<svg ") {
		t.Fatalf("not an SVG: %.40q", svg)
	}
	bars, text := checkSVG(t, svg)
	if bars != 5 {
		t.Errorf("%d bars, want 5", bars)
	}
	for _, want := range []string{"Test <CPU> & co", "stdlib", "echo", "keyauth", "0.90×", "0.25×", "50k", "echo / keyauth: 10000 req/s"} {
		if !strings.Contains(text, want) {
			t.Errorf("SVG text lacks %q", want)
		}
	}
	empty := &Report{Config: DefaultConfig()}
	if bars, _ := checkSVG(t, empty.SVG()); bars != 0 {
		t.Errorf("empty report: %d bars", bars)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, out, err := parseFlags([]string{"-duration", "50ms", "-rounds", "2", "-frameworks", "gin, echo", "-scenarios", "bare,keyauth", "-out", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Duration != 50*time.Millisecond || cfg.Rounds != 2 || out != "x" ||
		len(cfg.Frameworks) != 2 || cfg.Frameworks[0] != scenario.Gin || len(cfg.Scenarios) != 2 {
		t.Fatalf("parsed %+v, out %q", cfg, out)
	}
	if got := cfg.cells(); len(got) != 3 { // gin/bare, echo/bare, echo/keyauth
		t.Errorf("cells %v, want 3", got)
	}
	for _, args := range [][]string{
		{"-duration", "0s"}, {"-duration", "1h"}, {"-rounds", "0"}, {"-clients", "0"}, {"-clients", "100000"},
		{"-max-requests", "0"}, {"-frameworks", "fiber"}, {"-scenarios", "nope"}, {"-frameworks", ""},
		{"-out", ""}, {"-latency", "-1s"}, {"extra"},
	} {
		if _, _, err := parseFlags(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// TestSmoke runs the load command's core with tiny bounds against real
// loopback servers and writes its outputs.
func TestSmoke(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Duration, cfg.Warmup, cfg.Rounds, cfg.Clients = 50*time.Millisecond, 10*time.Millisecond, 1, 2
	cfg.Frameworks = []scenario.Framework{scenario.Stdlib}
	cfg.Scenarios = []scenario.Scenario{scenario.Bare, scenario.Cached, scenario.Reject, scenario.SlowCached}
	cfg.AllocRuns = 20
	var progress strings.Builder
	rep, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != 4 {
		t.Fatalf("%d cells, want 4", len(rep.Cells))
	}
	for _, c := range rep.Cells {
		if c.Requests == 0 || c.Errors != 0 || c.P50 <= 0 || c.P99 < c.P50 || c.Allocs < 0 {
			t.Errorf("%s/%s: %d requests, %d errors, p50 %v, p99 %v, allocs %v", c.Framework, c.Scenario, c.Requests, c.Errors, c.P50, c.P99, c.Allocs)
		}
	}
	if rep.Wait.Method == "" {
		t.Error("slow scenario ran without a calibrated wait")
	}
	dir := t.TempDir()
	if err := WriteOutputs(rep, dir, "go run ./bench/cmd/loadtest (smoke)"); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil || !strings.Contains(string(md), "| stdlib | cached |") {
		t.Errorf("results.md: %v\n%s", err, md)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "chart.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if bars, _ := checkSVG(t, string(svg)); bars != 4 {
		t.Errorf("chart has %d bars, want 4", bars)
	}
}

// TestMaxRequestsBounds checks that a cell stops at its request budget long
// before its duration.
func TestMaxRequestsBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Duration, cfg.Warmup, cfg.Rounds, cfg.Clients, cfg.MaxRequests, cfg.AllocRuns = time.Minute, 0, 1, 3, 25, 0
	cfg.Frameworks, cfg.Scenarios = []scenario.Framework{scenario.Chi}, []scenario.Scenario{scenario.Bare}
	start := time.Now()
	rep, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Cells[0]; c.Requests != 25 || c.Errors != 0 {
		t.Errorf("%d requests (%d errors), want 25", c.Requests, c.Errors)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a 25-request cell ran for %v", d)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Clients = 0
	if _, err := Run(context.Background(), cfg, io.Discard); err == nil {
		t.Error("zero clients accepted")
	}
}
