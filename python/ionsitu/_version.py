"""The installed version of ionsitu (a module of its own, so that any part may import it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ionsitu")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"
