"""The package's version, as installed (one VERSION file sets it for every package)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("extrepo-client")
except PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"
