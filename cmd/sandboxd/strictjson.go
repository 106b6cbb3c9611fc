package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// checkStrictJSON holds an admin request body to what encoding/json lets
// through silently (docs/design.md §10):
//
//   - invalid UTF-8, which json.Unmarshal turns into U+FFFD (two different
//     raw owners would become one user), and \u escapes of lone surrogates,
//     which it turns into U+FFFD the same way;
//   - duplicate keys in an object, of which json.Unmarshal keeps the last;
//   - field names that are not exactly the documented ones: json.Unmarshal
//     matches them case-insensitively ("OWNER" sets owner), and
//     DisallowUnknownFields then lets them through.
//
// v is the pointer to the struct the body is decoded into; its json tags
// are the documented names. A syntax error is reported like the decoder's.
func checkStrictJSON(body []byte, v any) error {
	if !utf8.Valid(body) {
		return detailError("Request body is not valid UTF-8")
	}
	if err := checkSurrogates(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := walkJSON(dec, jsonFieldNames(v), 0); err != nil {
		return err
	}
	return nil
}

// detailError is a 400's detail, shown to the client as it is.
type detailError string

func (e detailError) Error() string { return string(e) }

func detailf(format string, args ...any) error { return detailError(fmt.Sprintf(format, args...)) }

// maxJSONDepth bounds the nesting walkJSON follows (the bodies are flat).
const maxJSONDepth = 32

// walkJSON reads one value from dec. In an object it rejects a key seen
// before; at the top level (fields != nil) it rejects a key that is not one
// of fields, exactly.
func walkJSON(dec *json.Decoder, fields map[string]bool, depth int) error {
	if depth > maxJSONDepth {
		return detailError("Malformed JSON body: nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return malformed(err)
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return malformed(err)
			}
			key, _ := kt.(string)
			if seen[key] {
				return detailf("Malformed JSON body: duplicate field %s", strconv.Quote(key))
			}
			seen[key] = true
			if fields != nil && !fields[key] {
				for f := range fields {
					if strings.EqualFold(f, key) {
						return detailf("Malformed JSON body: unknown field %s (field names are case-sensitive: %s)", strconv.Quote(key), strconv.Quote(f))
					}
				}
				return detailf("Malformed JSON body: unknown field %s", strconv.Quote(key))
			}
			if err := walkJSON(dec, nil, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return malformed(err)
		}
	case json.Delim('['):
		for dec.More() {
			if err := walkJSON(dec, nil, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return malformed(err)
		}
	}
	return nil
}

func malformed(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return detailError("Malformed JSON body: " + err.Error())
}

// jsonFieldNames returns the JSON names of the fields of the struct v
// points to.
func jsonFieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}

// checkSurrogates rejects \u escapes that do not encode a character: a high
// surrogate not followed by a low one, or a low one on its own. It scans
// only inside string literals; body is valid UTF-8.
func checkSurrogates(body []byte) error {
	bad := detailError("Request body is not valid UTF-8: a \\u escape encodes a lone surrogate")
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(body) {
				return nil // a syntax error, reported by the decoder
			}
			if body[i+1] != 'u' {
				i++ // skip the escaped character (\" and \\ included)
				continue
			}
			r, ok := hex4(body, i+2)
			if !ok {
				return nil // a syntax error, reported by the decoder
			}
			i += 5
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00: // high: a low one must follow
				if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					if r2, ok := hex4(body, i+3); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
						i += 6
						continue
					}
				}
				return bad
			case utf16.IsSurrogate(r): // a low one on its own
				return bad
			}
		}
	}
	return nil
}

// hex4 reads the 4 hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
