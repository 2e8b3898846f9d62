"""imgtool: a daemonless container image toolkit (build, ship, run, inspect OCI images)."""

__version__ = "0.1.0"
