package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CertReloader serves a certificate and key from files and picks up new ones
// when the files change (a renewal by cert-manager, certbot or a SPIFFE
// agent), without a restart: each TLS handshake checks the files' modification
// times (two stats) and reloads when either changed. A pair that does not load
// (half written, mismatched) is logged and the previous one kept.
type CertReloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamped [2]time.Time
}

// NewCertReloader loads the pair once; an error if it does not load.
func NewCertReloader(certFile, keyFile string, logger *slog.Logger) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *CertReloader) stamps() ([2]time.Time, error) {
	var out [2]time.Time
	for i, name := range []string{r.certFile, r.keyFile} {
		info, err := os.Stat(name)
		if err != nil {
			return out, err
		}
		out[i] = info.ModTime()
	}
	return out, nil
}

func (r *CertReloader) reload() error {
	stamped, err := r.stamps()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamped = &cert, stamped
	return nil
}

// GetCertificate is tls.Config's callback.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if stamped, err := r.stamps(); err == nil && stamped != r.stamped {
		if err := r.reload(); err != nil {
			r.logger.Warn("keeping the previous TLS certificate", "err", err)
			r.stamped = stamped // do not retry on every handshake until the files change again
		} else {
			r.logger.Info("TLS certificate reloaded", "cert", r.certFile)
		}
	}
	return r.cert, nil
}

// TLSConfig is a server configuration serving the reloaded certificate.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}
