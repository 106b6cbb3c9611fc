package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as sandboxd itself, so the signal test
// exercises main() in a real process without building another binary.
func TestMain(m *testing.M) {
	if os.Getenv("SANDBOXD_TEST_RUN_MAIN") == "1" {
		for i, a := range os.Args { // sandboxd's own arguments follow "--"
			if a == "--" {
				os.Args = append([]string{os.Args[0]}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSIGTERMShutsDownGracefully starts sandboxd as a process, waits for it
// to listen, sends SIGTERM and expects a clean exit.
func TestSIGTERMShutsDownGracefully(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "--addr", "127.0.0.1:0", "--framework", "echo")
			cmd.Env = append(os.Environ(), "SANDBOXD_TEST_RUN_MAIN=1",
				"SANDBOXD_DB="+filepath.Join(t.TempDir(), "sig.db"), "SANDBOXD_ADMIN_TOKEN="+adminToken)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill() }()
			addr := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					var rec struct{ Msg, Addr string }
					if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "sandboxd listening" {
						addr <- rec.Addr
					}
				}
			}()
			select {
			case a := <-addr:
				resp, err := http.Get("http://" + a + "/healthz")
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("healthz: %v %v", resp, err)
				}
				resp.Body.Close()
			case <-time.After(30 * time.Second):
				t.Fatal("sandboxd did not start")
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("sandboxd exited with %v after %v", err, sig)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("sandboxd did not exit after %v", sig)
			}
		})
	}
}
