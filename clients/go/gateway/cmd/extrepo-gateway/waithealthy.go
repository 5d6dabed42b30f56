package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/extrepo/extrepo/clients/go/gateway"
)

// waitHealthy polls the health endpoint of the gateway at baseURL until it
// answers 200 (the gRPC server behind it is serving), for at most timeout.
// Refused connections and 503s are expected while the two processes start.
func waitHealthy(ctx context.Context, baseURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := strings.TrimRight(baseURL, "/") + gateway.HealthPath
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		last := checkHealth(ctx, client, url)
		if last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy within %s: %s", url, timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkHealth makes one request; it returns "" when healthy, else why not.
func checkHealth(ctx context.Context, client *http.Client, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.Status
	}
	return ""
}
