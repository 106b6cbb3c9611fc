package otelauth_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sandboxauth/sandboxauth/core"
	"github.com/sandboxauth/sandboxauth/otelauth"
	"github.com/sandboxauth/sandboxauth/stdlib"
)

// A service's wiring: one Observer for the validator (and, in a real
// service, its cache and change feed), on the application's meter provider.
// Here the provider is the SDK's with a reader polled by hand; a service
// would export to its collector, or leave out WithMeterProvider and set
// the global provider.
func Example() {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())

	obs, err := otelauth.New(otelauth.WithMeterProvider(provider))
	if err != nil {
		log.Fatal(err)
	}
	store := core.NewMemoryStore()
	_ = store.Put("sk-live", core.SandboxInfo{ID: "sb-1", CreatedByUserID: "alice", Status: core.StatusRunning})
	v, err := core.New(store, core.WithObserver(obs), core.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	auth, err := stdlib.Middleware(v, stdlib.WithSandboxParam("sandbox_id"))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/sandboxes/{sandbox_id}/settings/secrets", auth(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "secrets") })))

	for _, key := range []string{"sk-live", "sk-live", "sk-wrong", ""} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/sandboxes/sb-1/settings/secrets", nil)
		if key != "" {
			req.Header.Set("X-Session-API-Key", key)
		}
		mux.ServeHTTP(httptest.NewRecorder(), req)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == otelauth.MetricDecisions {
			for _, dp := range sum.DataPoints {
				code, _ := dp.Attributes.Value(otelauth.AttrCode)
				lines = append(lines, fmt.Sprintf("%s{code=%s} %d", m.Name, code.AsString(), dp.Value))
			}
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// sandboxauth.decisions{code=accepted} 2
	// sandboxauth.decisions{code=invalid_session_key} 1
	// sandboxauth.decisions{code=missing_session_key} 1
}
