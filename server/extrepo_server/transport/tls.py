"""TLS for the gRPC listeners, with certificates reloaded when their files change.

grpc's dynamic server credentials ask a fetcher for the certificate at each new
connection's handshake; ours compares the files' modification times and sizes (two
or three stats) and reads them again only when they changed: a renewal (by
cert-manager, certbot, a SPIFFE agent) is served from the next connection on,
without a restart. A pair that cannot be read (a file half written) is logged and
the previous one kept until the files change again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import grpc

log = logging.getLogger("extrepo.tls")


class ReloadingCredentials:
    def __init__(self, cert_file: Path, key_file: Path, client_ca_file: Path | None = None) -> None:
        self._files = tuple(f for f in (cert_file, key_file, client_ca_file) if f is not None)
        self._cert_file, self._key_file, self._client_ca = cert_file, key_file, client_ca_file
        self._stamps = self._stat()
        self._initial = self._configuration()

    def _stat(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in self._files:
            info = os.stat(path)
            stamps.append((info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def _configuration(self):
        return grpc.ssl_server_certificate_configuration(
            [(self._key_file.read_bytes(), self._cert_file.read_bytes())],
            root_certificates=None if self._client_ca is None else self._client_ca.read_bytes(),
        )

    def _fetch(self):
        """grpc's fetcher: a new configuration if the files changed, else None."""
        try:
            stamps = self._stat()
            if stamps == self._stamps:
                return None
            self._stamps = stamps
            configuration = self._configuration()
        except (OSError, ValueError) as exc:
            log.warning("keeping the previous TLS certificate", extra={"error": str(exc)})
            return None
        log.info("TLS certificate reloaded", extra={"cert": str(self._cert_file)})
        return configuration

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self._initial,
            self._fetch,
            require_client_authentication=self._client_ca is not None,
        )
