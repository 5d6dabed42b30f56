package gateway

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The gateway's messages quote a client's input (a path, a method, a query
// value, a JSON token) only by a short prefix: a 10,000-character path must
// not come back whole, in an answer or in the log.
const (
	// maxQuoted is the most of one input a message quotes, in bytes.
	maxQuoted = 64
	// maxMessage bounds a whole message built from a library's error text,
	// which may quote inputs in ways prefix cannot see (protojson quotes a
	// bad JSON token without quotes).
	maxMessage = 300
)

// prefix returns s whole if it is short, else its first maxQuoted bytes (cut
// at a character boundary) followed by "…" and the full length. Invalid
// UTF-8 becomes U+FFFD, so the result can always be written as JSON.
func prefix(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxQuoted {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", cut(s, maxQuoted), len(s))
}

// cut returns at most n bytes of s without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// quoted matches a Go-quoted string ("..." with backslash escapes) in an
// error text: strconv and grpc-gateway's query parser quote values with %q.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// goFuncPrefix matches the Go function names strconv puts in its errors
// ("strconv.ParseInt: "); they mean nothing to a client.
var goFuncPrefix = regexp.MustCompile(`\bstrconv\.\w+: `)

// longWord matches a long run without spaces: an input quoted without
// quotes (protojson writes a bad token as it is). Its bound leaves alone a
// quoted value already cut to maxQuoted (quotes and "…" around it).
var longWord = regexp.MustCompile(fmt.Sprintf(`\S{%d,}`, maxQuoted+9))

// shortMessage makes a library's error text fit for an answer: Go function
// names dropped, every quoted value and every long word cut to a prefix, the
// whole bounded.
func shortMessage(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	msg = goFuncPrefix.ReplaceAllString(msg, "")
	msg = quoted.ReplaceAllStringFunc(msg, func(q string) string {
		if len(q) <= maxQuoted+2 {
			return q
		}
		return `"` + cut(q[1:], maxQuoted) + `…"`
	})
	msg = longWord.ReplaceAllStringFunc(msg, func(w string) string { return cut(w, maxQuoted) + "…" })
	if len(msg) > maxMessage {
		msg = cut(msg, maxMessage) + "…"
	}
	return msg
}
