"""slaspec: service-level agreements between marketing and sales, as code."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("slaspec")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    __version__ = "0.0.0+unknown"

from slaspec import native

native.guard()
