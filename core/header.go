package core

import "net/http"

// HeaderName is the only place a session key is read from. There is no
// query-string, form or cookie fallback: keys in URLs end up in logs
// (docs/design.md §4).
const HeaderName = "X-Session-API-Key"

// canonicalHeader is HeaderName as net/http stores it in an http.Header.
const canonicalHeader = "X-Session-Api-Key"

// headerPresent reports whether h carries the session key header at all
// (even empty). A credentials-optional route passes only when it is absent.
func headerPresent(h http.Header) bool {
	_, ok := h[canonicalHeader]
	return ok
}

// keyFromHeader applies the header rules of docs/design.md §2 and §4 and
// returns the key: absent or empty → ErrMissingKey; more than one value,
// longer than the bound, or containing a control character → ErrMalformedKey.
func (v *Validator) keyFromHeader(h http.Header) (string, error) {
	vals := h[canonicalHeader]
	switch {
	case len(vals) == 0 || (len(vals) == 1 && vals[0] == ""):
		return "", ErrMissingKey
	case len(vals) > 1:
		return "", ErrMalformedKey
	}
	return vals[0], v.checkKey(vals[0])
}

func (v *Validator) checkKey(key string) error {
	if key == "" {
		return ErrMissingKey
	}
	if len(key) > v.maxLen {
		return ErrMalformedKey
	}
	if hasControl(key) {
		return ErrMalformedKey
	}
	return nil
}

// hasControl reports whether s contains a byte below 0x20 or 0x7f (DEL). It
// runs on every request, so it tests eight bytes per step: with
// lo = 0x0101..01 and hi = 0x8080..80, (x - 0x20*lo) &^ x & hi is non-zero
// iff some byte of x is below 0x20, and the same test on x ^ 0x7f*lo with 1
// finds a byte equal to 0x7f. Bytes of 0x80 and above (UTF-8) match neither.
func hasControl(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		d := x ^ (0x7f * lo)
		if ((x-0x20*lo)&^x|(d-lo)&^d)&hi != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
