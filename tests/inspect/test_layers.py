"""`inspect --layers` on images with known content: exact waste, dive's figures, CI thresholds."""

from __future__ import annotations

import pytest

from .conftest import cli_json, run_cli
from .scenarios import SOMEFILE


def test_ten_megabytes_added_then_deleted_still_ship(scenario_store):
    doc = cli_json("inspect", "--layers", "--format", "json", "big:1", root=scenario_store)
    assert doc["deleted_bytes"] == 10_000_000
    assert doc["overwritten_bytes"] == 0
    assert doc["visible_bytes"] == 8
    assert doc["total_bytes"] == doc["visible_bytes"] + doc["wasted_bytes"]
    big = doc["layers"][1]
    assert big["invisible_deleted_bytes"] == 10_000_000 and big["size"] == 10_000_000
    assert doc["layers"][2]["files_deleted"] == 1 and doc["layers"][2]["hides_bytes"] == 10_000_000
    assert doc["wasted_paths"][0] == {"path": "/data/big.bin", "copies": 1, "bytes": 10_000_000,
                                      "layers": [1], "statuses": ["deleted"]}
    assert doc["layers"][1]["compressed_size"] < 100_000 < doc["layers"][1]["uncompressed_size"]


def test_overwritten_twice_shows_both_earlier_copies(scenario_store):
    doc = cli_json("inspect", "--layers", "--format", "json", "twice:1", root=scenario_store)
    assert doc["overwritten_bytes"] == 3000 and doc["deleted_bytes"] == 0 and doc["visible_bytes"] == 3000
    assert doc["wasted_paths"] == [{"path": "/etc/app.conf", "copies": 2, "bytes": 3000, "layers": [0, 1],
                                    "statuses": ["overwritten", "overwritten"]}]
    assert [layer["files_modified"] for layer in doc["layers"]] == [0, 1, 1]
    # dive counts the visible copy as waste too (dive#684): 1000 + 2000 + 3000
    assert doc["dive"]["wasted_bytes"] == 6000


def test_dive_test_image_figures_equal_dives_own_test_vector(scenario_store):
    """dive's .data/test-docker-image.tar expectations (image_test.go / efficiency), rebuilt here."""
    doc = cli_json("inspect", "--layers", "--format", "json", "dive:test", root=scenario_store)
    d = doc["dive"]
    assert d["size_bytes"] == 1_220_598 and d["user_size_bytes"] == 66_237
    assert d["efficiency"] == 0.9844212134184309
    assert d["wasted_bytes"] == 32_025
    assert d["user_wasted_percent"] == 0.4834911001404049
    assert {(f["path"], f["count"], f["bytes"]) for f in d["inefficient_files"]} == {
        ("/root/example/somefile1.txt", 2, 2 * SOMEFILE), ("/root/saved.txt", 2, 2 * SOMEFILE),
        ("/root/example/somefile3.txt", 2, SOMEFILE)}
    # the exact accounting: same total by coincidence, different files (docs/inspect.md)
    assert doc["visible_bytes"] == 1_188_573 and doc["wasted_bytes"] == 32_025
    assert doc["overwritten_bytes"] == 2 * SOMEFILE and doc["deleted_bytes"] == 3 * SOMEFILE
    paths = {p["path"]: p["statuses"] for p in doc["wasted_paths"]}
    assert paths["/root/example/somefile2.txt"] == ["deleted"]      # rm -rf: dive misses it
    assert paths["/root/saved.txt"] == ["overwritten"]               # chmod +x copies the file
    assert "/root/.saved.txt" not in paths
    assert [layer["history_index"] for layer in doc["layers"]] == list(range(14))
    assert doc["layers"][7]["created_by"] == "RUN mv /root/example/somefile3.txt /root/saved.txt"


def test_opaque_whiteout_counts_as_deleted_though_dive_ignores_it(scenario_store):
    doc = cli_json("inspect", "--layers", "--format", "json", "--files", "0", "opaque:1", root=scenario_store)
    assert doc["deleted_bytes"] == 10_000
    assert {p["path"]: p["statuses"] for p in doc["wasted_paths"]} == {
        "/var/cache/a": ["deleted-opaque"], "/var/cache/b": ["deleted-opaque"]}
    assert doc["dive"]["wasted_bytes"] == 0 and doc["dive"]["efficiency"] == 1.0
    files = {f["path"]: (f["change"], f["status"], f["removed_in_layer"]) for f in doc["layers"][0]["files"]}
    assert files["/var/cache/a"] == ("A", "deleted-opaque", 1)


def test_files_lists_one_layers_changes_in_the_table(scenario_store):
    out = run_cli("inspect", "--layers", "--files", "7", "dive:test", root=scenario_store).stdout
    assert "layer 7 changes:" in out
    assert "/root/example/somefile3.txt" in out and "/root/saved.txt" in out
    assert "efficiency 98.4421%" in out


@pytest.mark.parametrize("flags, code", [
    (["--lowest-efficiency", "0.99"], 1),
    (["--lowest-efficiency", "0.98"], 0),
    (["--highest-wasted-bytes", "32KB"], 1),     # 32,025 > 32,000: crossed (go-humanize: KB = 1000)
    (["--highest-wasted-bytes", "31KB"], 1),
    (["--highest-wasted-bytes", "32KiB"], 0),
    (["--highest-user-wasted-percent", "0.5"], 0),
    (["--highest-user-wasted-percent", "0.4"], 1),
    (["--highest-wasted-bytes", "disabled"], 0),
])
def test_ci_thresholds_fail_with_exit_1(scenario_store, flags, code):
    proc = run_cli("inspect", "--layers", *flags, "dive:test", root=scenario_store, check=False)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert ("FAIL:" in proc.stdout) == (code == 1)


@pytest.mark.parametrize("args, message", [
    (["--layers", "--highest-wasted-bytes", "lots"], "--highest-wasted-bytes 'lots'"),
    (["--layers", "--lowest-efficiency", "2"], "--lowest-efficiency '2'"),
    (["--files", "1"], "need --layers"),
    (["--layers", "--files", "99"], "--files 99"),
    (["--layers", "--format", "yaml"], "--format 'yaml'"),
])
def test_bad_flags_are_one_line(scenario_store, args, message):
    proc = run_cli("inspect", *args, "dive:test", root=scenario_store, check=False)
    assert proc.returncode != 0
    assert proc.stderr.startswith("imgtool: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr
