// Command extrepo-gateway serves extrepo's REST API, Docker Cloud's External
// Repositories API, in front of the extrepo gRPC server.
//
//	extrepo-gateway [-listen 127.0.0.1:8080] [-grpc-address 127.0.0.1:50051] [-port-file FILE]
//	                [-cors-origins https://app.example.com,...] [-read-timeout 30s]
//	                [-metrics-listen ADDR] [-otlp-endpoint http://collector:4318]
//	extrepo-gateway -wait-healthy http://127.0.0.1:8080 [-wait-timeout 30s]
//	extrepo-gateway -version
//
// Each flag has an environment variable, read when the flag is not given:
// EXTREPO_GATEWAY_ADDRESS for -listen, EXTREPO_ADDRESS (the variable the
// server and the clients use) for -grpc-address,
// EXTREPO_GATEWAY_CORS_ORIGINS for -cors-origins,
// EXTREPO_GATEWAY_READ_TIMEOUT for -read-timeout and
// EXTREPO_GATEWAY_OTLP_ENDPOINT for -otlp-endpoint (tracing, off when
// empty). A bad value stops it at start, naming the setting. SIGINT or SIGTERM
// stops it gracefully: requests in flight finish first.
//
// With -wait-healthy it serves nothing: it waits until the gateway at that URL
// answers 200 on its health endpoint (the gRPC server behind it is serving)
// and exits 0, or exits 1 after -wait-timeout. `make run` uses it, so that
// starting the services needs neither curl nor the Python test code.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	extrepo "github.com/extrepo/extrepo/clients/go"
	"github.com/extrepo/extrepo/clients/go/gateway"
	"go.opentelemetry.io/otel"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "extrepo-gateway:", err)
		os.Exit(1)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func run() error {
	listen := flag.String("listen", envOr("EXTREPO_GATEWAY_ADDRESS", "127.0.0.1:8080"),
		"host:port the REST gateway listens on; port 0 picks a free one (env EXTREPO_GATEWAY_ADDRESS)")
	grpcAddress := flag.String("grpc-address", envOr("EXTREPO_ADDRESS", "127.0.0.1:50051"),
		"host:port of the extrepo gRPC server (env EXTREPO_ADDRESS)")
	portFile := flag.String("port-file", "",
		"once listening, write the bound port into this file (for scripts and tests using port 0)")
	shutdownTimeout := flag.Duration("shutdown-timeout", 10*time.Second,
		"how long a graceful stop waits for requests in flight")
	waitURL := flag.String("wait-healthy", "",
		"do not serve: wait until the gateway at this base URL is healthy, then exit 0 (1 after -wait-timeout)")
	waitTimeout := flag.Duration("wait-timeout", 30*time.Second, "how long -wait-healthy waits")
	showVersion := flag.Bool("version", false, "print the version and exit")
	corsOrigins := flag.String("cors-origins", os.Getenv("EXTREPO_GATEWAY_CORS_ORIGINS"),
		"comma-separated origins that browsers may call the API from (CORS), e.g. https://app.example.com; "+
			"empty: none (env EXTREPO_GATEWAY_CORS_ORIGINS)")
	readTimeout := flag.String("read-timeout", envOr("EXTREPO_GATEWAY_READ_TIMEOUT", "30s"),
		"the longest a client may take to send a whole request, body included; slower ones are answered 408 "+
			"(env EXTREPO_GATEWAY_READ_TIMEOUT)")
	tlsCert := flag.String("tls-cert", os.Getenv("EXTREPO_GATEWAY_TLS_CERT_FILE"),
		"serve HTTPS with this certificate (PEM, with its chain), reloaded when the file changes "+
			"(env EXTREPO_GATEWAY_TLS_CERT_FILE); needs -tls-key")
	tlsKey := flag.String("tls-key", os.Getenv("EXTREPO_GATEWAY_TLS_KEY_FILE"),
		"the private key of -tls-cert (env EXTREPO_GATEWAY_TLS_KEY_FILE)")
	serverCA := flag.String("server-ca", os.Getenv("EXTREPO_GATEWAY_SERVER_CA_FILE"),
		"talk to the gRPC server over TLS, trusting the CA certificates in this PEM file "+
			"(env EXTREPO_GATEWAY_SERVER_CA_FILE); empty: plaintext")
	metricsListen := flag.String("metrics-listen", os.Getenv("EXTREPO_GATEWAY_METRICS_ADDRESS"),
		"host:port to serve Prometheus metrics on (/metrics), apart from the API "+
			"(env EXTREPO_GATEWAY_METRICS_ADDRESS); empty: not served")
	otlpEndpoint := flag.String("otlp-endpoint", os.Getenv("EXTREPO_GATEWAY_OTLP_ENDPOINT"),
		"base URL of an OTLP/HTTP collector to send OpenTelemetry traces to, e.g. http://127.0.0.1:4318 "+
			"(spans go to <url>/v1/traces; env EXTREPO_GATEWAY_OTLP_ENDPOINT); empty: tracing off")
	flag.Parse()
	if *showVersion {
		fmt.Println("extrepo-gateway", extrepo.Version)
		return nil
	}
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	origins, err := gateway.ParseOrigins(*corsOrigins)
	if err != nil {
		return fmt.Errorf("-cors-origins (EXTREPO_GATEWAY_CORS_ORIGINS): %w", err)
	}
	if *otlpEndpoint != "" {
		if _, err := gateway.TracesURL(*otlpEndpoint); err != nil {
			return fmt.Errorf("-otlp-endpoint (EXTREPO_GATEWAY_OTLP_ENDPOINT): %w", err)
		}
	}
	readDeadline, err := time.ParseDuration(*readTimeout)
	if err != nil || readDeadline <= 0 {
		return fmt.Errorf("-read-timeout (EXTREPO_GATEWAY_READ_TIMEOUT): %q is no positive duration such as 30s", *readTimeout)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *waitURL != "" {
		return waitHealthy(ctx, *waitURL, *waitTimeout)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))

	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	gatewayOptions := []gateway.Option{gateway.WithCORSOrigins(origins)}
	if *serverCA != "" {
		gatewayOptions = append(gatewayOptions, gateway.WithServerCA(*serverCA))
	}
	if *otlpEndpoint != "" {
		provider, err := gateway.NewTracerProvider(ctx, *otlpEndpoint, extrepo.Version)
		if err != nil {
			return err
		}
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Warn("tracing", "err", err) }))
		defer func() {
			// After the server's stop: export what is still queued, within a bound.
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = provider.Shutdown(sctx)
		}()
		gatewayOptions = append(gatewayOptions, gateway.WithTracing(provider))
		logger.Info("tracing", "endpoint", *otlpEndpoint)
	}
	gw, err := gateway.New(ctx, *grpcAddress, logger, gatewayOptions...)
	if err != nil {
		return err
	}
	defer gw.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if *tlsCert != "" {
		certs, err := gateway.NewCertReloader(*tlsCert, *tlsKey, logger)
		if err != nil {
			_ = ln.Close()
			return err
		}
		ln = tls.NewListener(ln, certs.TLSConfig())
		scheme = "https"
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if *portFile != "" {
		// Write then rename, so a reader never sees a half-written port.
		tmp := *portFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, *portFile); err != nil {
			return err
		}
	}

	var handler http.Handler = gw
	if *metricsListen != "" {
		metrics := gateway.NewMetrics(extrepo.Version)
		handler = metrics.Wrap(gw)
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics.Handler())
		metricsServer := &http.Server{Addr: *metricsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := metricsServer.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics endpoint stopped", "err", err)
			}
		}()
		defer metricsServer.Close()
		logger.Info("serving metrics", "address", *metricsListen)
	}

	srv := &http.Server{
		Handler: handler,
		// Over it, net/http answers 431 in plain text; what is forwarded to
		// the gRPC server has a tighter bound of its own (request.go).
		MaxHeaderBytes:    gateway.MaxHeaderBytes,
		ReadHeaderTimeout: min(10*time.Second, readDeadline),
		ReadTimeout:       readDeadline,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("extrepo-gateway serving",
		"rest", scheme+"://"+ln.Addr().String(), "grpc_server", *grpcAddress,
		"openapi", gateway.OpenAPIPath, "health", gateway.HealthPath, "cors_origins", strings.Join(origins, ","))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C kills at once
	logger.Info("extrepo-gateway stopping")
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
