"""slaspec: service-level agreements between marketing and sales, as code."""

# The package's version, read by the build too (pyproject.toml, [tool.hatch.version]).
__version__ = "0.1.0"

from slaspec import native

native.guard()
