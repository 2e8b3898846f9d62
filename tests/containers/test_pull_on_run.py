"""`run` of an image the store lacks pulls it first, as `docker run` does (`--pull missing`)."""

from __future__ import annotations

from tests.remote.conftest import client_env, make_server  # noqa: F401 - fixtures


def test_run_pulls_a_missing_image_and_honours_pull_never(cstore, imgtool, make_server, client_env, tmp_path):
    server = make_server("imgtool")
    ref = f"{server.host}/bb:1"
    imgtool("push", "-q", "busybox", ref, check=True)
    empty = {"IMGTOOL_ROOT": str(tmp_path / "empty")}

    never = imgtool("run", "--rm", "--pull", "never", ref, "true", env=empty)
    assert never.returncode == 125 and "not found" in never.stderr and never.stderr.count("\n") == 1, never

    first = imgtool("run", "--rm", ref, "echo", "pulled", env=empty)
    assert first.returncode == 0 and first.stdout == "pulled\n", first
    assert f"Unable to find image '{ref}' locally" in first.stderr, first
    again = imgtool("run", "--rm", ref, "echo", "local", env=empty)  # now in the store: no pull
    assert again.returncode == 0 and "Unable to find" not in again.stderr, again

    bad = imgtool("run", "--rm", "--pull", "sometimes", ref, "true", env=empty)
    assert bad.returncode == 125 and "invalid pull option" in bad.stderr, bad
    gone = imgtool("run", "--rm", f"{server.host}/absent:1", "true", env=empty)
    assert gone.returncode == 125 and gone.stderr.count("\n") == 2 and "Traceback" not in gone.stderr, gone
