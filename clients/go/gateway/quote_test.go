package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPrefix(t *testing.T) {
	if got := prefix("/api/repo/v1/"); got != "/api/repo/v1/" {
		t.Errorf("a short input changed: %q", got)
	}
	long := strings.Repeat("é", 1000) // two bytes each: the cut must not split one
	got := prefix(long)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "… (2000 bytes)") || len(got) > maxQuoted+20 {
		t.Errorf("prefix of 2000 bytes: %q", got)
	}
	if got := prefix("a\xffb"); got != "a\uFFFDb" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

func TestShortMessage(t *testing.T) {
	long := strings.Repeat("9", 5000)
	for in, want := range map[string]string{
		`parsing field "limit": strconv.ParseInt: parsing "abc": invalid syntax`: `parsing field "limit": parsing "abc": invalid syntax`,
		`parsing "` + long + `": value out of range`:                             `parsing "` + long[:maxQuoted] + `…": value out of range`,
		`invalid value for string field name: ` + long:                           `invalid value for string field name: ` + long[:maxQuoted] + `…`,
	} {
		if got := shortMessage(in); got != want {
			t.Errorf("shortMessage(%.60q) = %.200q, want %.200q", in, got, want)
		}
	}
	words := strings.Repeat("word ", 1000)
	if got := shortMessage(words); len(got) > maxMessage+len("…") {
		t.Errorf("%d bytes", len(got))
	}
}

// The gateway's own 404, 405 and 400 quote a short prefix of the path and
// method.
func TestRoutingErrorsQuoteAShortPrefix(t *testing.T) {
	srv := newUnreachable(t)
	long := strings.Repeat("x", 10000)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/" + long + "/", 404},
		{"PUT", "/api/repo/v1/repository/reg.io/" + long + "/", 405},
		{strings.Repeat("M", 5000), "/api/repo/v1/repository/", 405},
		{"GET", "/api/repo/v1/repository/?limit=" + long, 400},
	} {
		resp, body := do(t, c.method, srv.URL+c.path)
		msg, _ := body["error"].(string)
		if resp.StatusCode != c.status || msg == "" || strings.Contains(msg, strings.Repeat(c.method[:1], maxQuoted+1)) ||
			strings.Contains(msg, strings.Repeat("x", maxQuoted+1)) || len(msg) > 1000 {
			t.Errorf("%.10s %.40s: %d %.300q", c.method, c.path, resp.StatusCode, msg)
		}
	}
}
