"""Containers as docker users run them, on top of `imgtool.runtime`.

A container is a directory under the store root (`<root>/containers/<id>/`: config, state, log)
plus, while it runs, a monitor process (conmon's role: holds its stdio, writes the json-file log,
records the exit code and OOM) and, with its own network namespace, a `slirp4netns` process. There is no
daemon: every command reads the state on disk and checks liveness by pid and start time.
"""
