package gateway

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const collectionPath = "/api/repo/v1/repository/"

// Writes take application/json only: a cross-site form or text/plain POST
// (which a browser sends without a preflight) never reaches the server.
func TestWritesTakeJSONOnly(t *testing.T) {
	f := newFixture(t, nil)
	const body = `{"name": "reg.io/team/app", "username": "u", "password": "p"}`
	for _, c := range []struct {
		contentType string // "-": none
		httpStatus  int
	}{
		{"application/json", 201},
		{"application/json; charset=utf-8", 201},
		{"Application/JSON;charset=UTF-8", 201},
		{"text/plain", 415},
		{"text/plain;charset=UTF-8", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/jsonx", 415},
		{"application/json-patch+json", 415},
		{"json", 415},
		{"-", 415},
	} {
		headers := map[string]string{}
		if c.contentType != "-" {
			headers["Content-Type"] = c.contentType
		}
		before := f.backend.callCount()
		for _, method := range []string{"POST", "PATCH"} {
			path := collectionPath
			if method == "PATCH" {
				path = itemPath
			}
			resp, raw := request(t, method, f.url+path, body, headers)
			want := c.httpStatus
			if method == "PATCH" && want == 201 {
				want = 501 // the backend has no Update: it was reached
			}
			if resp.StatusCode != want {
				t.Errorf("%s %q: %d %s, want %d", method, c.contentType, resp.StatusCode, raw, want)
			}
			if want == 415 && !strings.Contains(decodeError(t, raw).Error, "Content-Type: application/json") {
				t.Errorf("%s %q: %s", method, c.contentType, raw)
			}
		}
		if reached := f.backend.callCount() > before; reached != (c.httpStatus == 201) {
			t.Errorf("%q reached the server: %v", c.contentType, reached)
		}
	}
	// Two Content-Type headers are refused, whatever they say.
	req, _ := http.NewRequest("POST", f.url+collectionPath, strings.NewReader(body))
	req.Header.Add("Content-Type", "application/json")
	req.Header.Add("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if raw := readAll(t, resp); resp.StatusCode != 415 {
		t.Errorf("two Content-Types: %d %s", resp.StatusCode, raw)
	}
	// A wrong method is still 405, a wrong path still 404, whatever the type.
	for path, want := range map[string]int{itemPath: 405, "/nowhere/": 404} {
		resp, raw := request(t, "POST", f.url+path, body, map[string]string{"Content-Type": "text/plain"})
		if resp.StatusCode != want {
			t.Errorf("POST %s text/plain: %d %s, want %d", path, resp.StatusCode, raw, want)
		}
	}
	// Reads need no Content-Type.
	if resp, raw := request(t, "GET", f.url+collectionPath, "", nil); resp.StatusCode != 200 {
		t.Errorf("GET: %d %s", resp.StatusCode, raw)
	}
	// Nor does an empty write: it reaches the server, which says what is
	// missing.
	before := f.backend.callCount()
	if resp, raw := request(t, "POST", f.url+collectionPath, "", nil); resp.StatusCode != 201 || f.backend.callCount() != before+1 {
		t.Errorf("empty POST: %d %s", resp.StatusCode, raw)
	}
}

func TestBodyTooLargeIs413(t *testing.T) {
	f := newFixture(t, nil)
	big := `{"name": "` + strings.Repeat("a", maxBodyBytes) + `"}`
	resp, raw := request(t, "POST", f.url+collectionPath, big, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 413 || !strings.Contains(decodeError(t, raw).Error, "larger than") {
		t.Errorf("%d %s", resp.StatusCode, raw)
	}
	if f.backend.callCount() != 0 {
		t.Error("a body over the limit reached the server")
	}
}

// A body that arrives too slowly is 408 (not 400 with an i/o timeout text).
func TestSlowBodyIs408(t *testing.T) {
	f := newFixture(t, func(s *http.Server) { s.ReadTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\"", collectionPath)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := readAll(t, resp)
	body := decodeError(t, raw)
	if resp.StatusCode != http.StatusRequestTimeout || strings.Contains(raw, "i/o timeout") || body.Code != 4 {
		t.Errorf("%d %s", resp.StatusCode, raw)
	}
	if f.backend.callCount() != 0 {
		t.Error("a cut body reached the server")
	}
}

// A body that is no JSON of the request is 400 with a short message.
func TestBodyErrorsQuoteAShortPrefix(t *testing.T) {
	f := newFixture(t, nil)
	long := strings.Repeat("9", 10000)
	for _, body := range []string{
		`{"name": ` + long + `}`,
		`{"name": "x", ` + long + `}`,
		`{"` + long + `": 1, "name": 5}`,
		`{"name": "\xff"}`,
	} {
		resp, raw := request(t, "POST", f.url+collectionPath, body, map[string]string{"Content-Type": "application/json"})
		b := decodeError(t, raw)
		if resp.StatusCode != 400 || len(b.Error) > maxMessage+10 || strings.Contains(raw, strings.Repeat("9", maxQuoted+1)) {
			t.Errorf("%.40s: %d %s", body, resp.StatusCode, raw)
		}
	}
}
