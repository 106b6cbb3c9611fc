package core

import (
	"strings"
	"testing"
)

// hasControlSlow is the definition hasControl must agree with.
func hasControlSlow(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func TestHasControlAgreesWithByteLoop(t *testing.T) {
	base := strings.Repeat("sk-AZaz09_-~", 3) // 36 printable bytes
	for n := 0; n <= len(base); n++ {
		for pos := 0; pos < n; pos++ {
			for b := 0; b < 256; b++ {
				s := base[:pos] + string([]byte{byte(b)}) + base[pos+1:n]
				if got, want := hasControl(s), hasControlSlow(s); got != want {
					t.Fatalf("hasControl(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}

func FuzzHasControl(f *testing.F) {
	f.Add("sk-plain-key")
	f.Add("\x7f\x80\xff\x1f ")
	f.Fuzz(func(t *testing.T, s string) {
		if hasControl(s) != hasControlSlow(s) {
			t.Fatalf("disagree on %q", s)
		}
	})
}

func BenchmarkHasControl(b *testing.B) {
	key := "gNyOeM_AVevdct8vUHJFHO26auukRVkDltwXWzRgxDg" // a real 43-byte key
	for b.Loop() {
		if hasControl(key) {
			b.Fatal("printable key flagged")
		}
	}
}

func BenchmarkHasControlByteLoop(b *testing.B) {
	key := "gNyOeM_AVevdct8vUHJFHO26auukRVkDltwXWzRgxDg"
	for b.Loop() {
		if hasControlSlow(key) {
			b.Fatal("printable key flagged")
		}
	}
}

func TestDigestAllocatesNothing(t *testing.T) {
	key := "gNyOeM_AVevdct8vUHJFHO26auukRVkDltwXWzRgxDg"
	if n := testing.AllocsPerRun(100, func() { _ = Digest(key) }); n != 0 {
		t.Errorf("Digest allocates %v times per call", n)
	}
	if DigestHex("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Error("Digest is not SHA-256")
	}
}
