package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

const itemPath = "/api/repo/v1/repository/reg.io/team/app/"

// withRetry is a status carrying a google.rpc.RetryInfo, as the server's
// limit on failed authentications answers.
func withRetry(t *testing.T, code codes.Code, msg string, delay time.Duration) error {
	t.Helper()
	st, err := status.New(code, msg).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func decodeError(t *testing.T, raw string) errorBody {
	t.Helper()
	var body errorBody
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("error body %q: %v", raw, err)
	}
	if body.Error == "" || body.Details == nil {
		t.Fatalf("error body without error or details: %q", raw)
	}
	return body
}

func TestRetryAfterFromRetryInfo(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		code       codes.Code
		delay      time.Duration
		httpStatus int
		retryAfter string
	}{
		{codes.ResourceExhausted, 1200 * time.Millisecond, 429, "2"}, // rounded up
		{codes.ResourceExhausted, 30 * time.Second, 429, "30"},
		{codes.ResourceExhausted, 200 * time.Millisecond, 429, "1"}, // at least 1
		{codes.ResourceExhausted, 0, 429, "1"},
		{codes.Unavailable, 5 * time.Second, 503, "5"},
		{codes.Unavailable, 90 * 24 * time.Hour, 503, "86400"}, // bounded
	} {
		f.backend.setReply(withRetry(t, c.code, "too many failed authentications; retry later", c.delay))
		resp, raw := request(t, "GET", f.url+itemPath, "", nil)
		if resp.StatusCode != c.httpStatus || resp.Header.Get("Retry-After") != c.retryAfter {
			t.Errorf("%v after %v: %d Retry-After %q, want %d %q", c.code, c.delay,
				resp.StatusCode, resp.Header.Get("Retry-After"), c.httpStatus, c.retryAfter)
		}
		body := decodeError(t, raw)
		// The RetryInfo stays in details for clients that read them.
		if len(body.Details) != 1 || !strings.Contains(string(body.Details[0]), "google.rpc.RetryInfo") {
			t.Errorf("%v: details %s", c.code, body.Details)
		}
	}
	// Without RetryInfo, no Retry-After.
	f.backend.setReply(status.Error(codes.ResourceExhausted, "too many requests"))
	if resp, _ := request(t, "GET", f.url+itemPath, "", nil); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "" {
		t.Errorf("no RetryInfo: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestResourceExhaustedShowsNoMetadata(t *testing.T) {
	f := newFixture(t, nil)
	// What grpc core answers for metadata over its soft limit.
	f.backend.setReply(withRetry(t, codes.ResourceExhausted,
		"received metadata size exceeds soft limit (14723 vs. 8192);  :path:71B :authority:57B "+
			"grpcgateway-authorization:7063B authorization:7051B", time.Second))
	resp, raw := request(t, "GET", f.url+itemPath, "", nil)
	body := decodeError(t, raw)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("%d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, leak := range []string{"metadata", "authorization", ":path", "8192"} {
		if strings.Contains(raw, leak) {
			t.Errorf("the body shows %q: %s", leak, raw)
		}
	}
	if body.Error != exhaustedMessage || body.Code != int32(codes.ResourceExhausted) {
		t.Errorf("body %+v", body)
	}
	if !strings.Contains(f.log.String(), "received metadata size exceeds soft limit") {
		t.Errorf("the detail is not logged:\n%s", f.log)
	}
	// The server's own message stays.
	f.backend.setReply(status.Error(codes.ResourceExhausted, "too many failed authentications for this key; retry in 30 s"))
	if _, raw := request(t, "GET", f.url+itemPath, "", nil); decodeError(t, raw).Error != "too many failed authentications for this key; retry in 30 s" {
		t.Errorf("the server's message is lost: %s", raw)
	}
}

func TestInternalErrorsAreNotShown(t *testing.T) {
	f := newFixture(t, nil)
	for _, code := range []codes.Code{codes.Internal, codes.Unknown, codes.DataLoss} {
		f.backend.setReply(status.Error(code, "Traceback (most recent call last): File \"/srv/app.py\""))
		resp, raw := request(t, "GET", f.url+itemPath, "", nil)
		body := decodeError(t, raw)
		if resp.StatusCode != 500 || body.Error != "internal error" || body.Message != "internal error" {
			t.Errorf("%v: %d %s", code, resp.StatusCode, raw)
		}
	}
	if !strings.Contains(f.log.String(), "Traceback") {
		t.Errorf("the detail is not logged:\n%s", f.log)
	}
}

// A 503 names neither the backend nor the transport; the log does.
func TestUnavailableSaysNothingOfTheInside(t *testing.T) {
	srv := newUnreachable(t)
	for _, path := range []string{itemPath, "/api/repo/v1/repository/", HealthPath} {
		resp, body := do(t, "GET", srv.URL+path)
		raw, _ := json.Marshal(body)
		if resp.StatusCode != http.StatusServiceUnavailable || body["error"] != unavailableMessage || body["message"] != unavailableMessage {
			t.Errorf("%s: %d %s", path, resp.StatusCode, raw)
		}
		for _, leak := range []string{"127.0.0.1", "dial", "tcp", "connect"} {
			if strings.Contains(string(raw), leak) {
				t.Errorf("%s: the body shows %q: %s", path, leak, raw)
			}
		}
	}
}

// The server's messages for the caller's mistakes pass unchanged, with the
// hints the gateway adds.
func TestCallersMistakesKeepTheirMessage(t *testing.T) {
	f := newFixture(t, nil)
	f.backend.setReply(status.Error(codes.Unauthenticated, "the API key is not valid"))
	resp, raw := request(t, "GET", f.url+itemPath, "", nil)
	body := decodeError(t, raw)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="extrepo"` ||
		body.Message != "the API key is not valid" || !strings.HasPrefix(body.Error, "the API key is not valid; send") {
		t.Errorf("%d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), raw)
	}
	if strings.Contains(f.log.String(), "withheld") {
		t.Errorf("a caller's mistake was withheld:\n%s", f.log)
	}
}

// The server's own UNAVAILABLE messages (they carry an ErrorInfo of its domain)
// tell the caller what happened and that a retry is safe: they pass, with the
// Retry-After of their RetryInfo. One without that ErrorInfo is a gRPC
// library's and says nothing of the inside.
func TestTheServersOwnUnavailableMessagePasses(t *testing.T) {
	f := newFixture(t, nil)
	const msg = "another write holds the database lock for longer than the lock timeout; nothing was changed, retry shortly"
	st, err := status.New(codes.Unavailable, msg).WithDetails(
		&errdetails.ErrorInfo{Reason: "DATABASE_LOCKED", Domain: serverErrorDomain},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	f.backend.setReply(st.Err())
	resp, raw := request(t, "GET", f.url+itemPath, "", nil)
	if body := decodeError(t, raw); resp.StatusCode != 503 || body.Error != msg || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), raw)
	}
	for _, domain := range []string{"", "example.com"} {
		st, _ := status.New(codes.Unavailable, "connection error: desc = dial tcp 10.0.0.7:50051").WithDetails(
			&errdetails.ErrorInfo{Reason: "X", Domain: domain})
		f.backend.setReply(st.Err())
		if _, raw := request(t, "GET", f.url+itemPath, "", nil); decodeError(t, raw).Error != unavailableMessage {
			t.Errorf("domain %q: %s", domain, raw)
		}
	}
}
