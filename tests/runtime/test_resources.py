"""docker's resource flags -> runtime resources: docker's values, docker's refusals, one line each."""

from __future__ import annotations

import pytest

from imgtool.errors import InvalidResourceError
from imgtool.runtime.cgroups import Resources
from imgtool.runtime.resources import from_flags, parse_size


@pytest.mark.parametrize("text, value", [
    ("512k", 512 << 10), ("200m", 200 << 20), ("1g", 1 << 30), ("1gb", 1 << 30), ("1.5g", 3 << 29),
    ("6291456", 6 << 20), ("7M", 7 << 20), ("2GiB", 2 << 30),
])
def test_sizes_as_docker_reads_them(text, value):
    assert parse_size(text) == value


def test_docker_defaults():
    assert from_flags() == Resources()
    assert from_flags(memory="64m") == Resources(memory=64 << 20, memory_swap=128 << 20)
    assert from_flags(memory="64m", memory_swap="-1") == Resources(memory=64 << 20, memory_swap=-1)
    assert from_flags(memory="64m", memory_swap="64m") == Resources(memory=64 << 20, memory_swap=64 << 20)
    assert from_flags(memory="0") == Resources()
    assert from_flags(cpus="1.5", host_cpus=2) == Resources(cpu_quota=150_000, cpu_period=100_000)
    assert from_flags(cpus="0.01", host_cpus=2) == Resources(cpu_quota=1_000, cpu_period=100_000)
    assert from_flags(cpus="0") == Resources()
    assert from_flags(cpu_shares="512") == Resources(cpu_shares=512)
    assert from_flags(pids_limit="100") == Resources(pids=100)
    assert from_flags(pids_limit="0") == Resources(pids=-1)
    assert from_flags(pids_limit="-1") == Resources(pids=-1)


@pytest.mark.parametrize("flags, message", [
    ({"memory": "4m"}, r"^Minimum memory limit allowed is 6MB$"),
    ({"memory": "1k"}, r"^Minimum memory limit allowed is 6MB$"),
    ({"memory": "-5m"}, r"^invalid argument \"-5m\" for \"--memory\" flag: invalid size: '-5m'$"),
    ({"memory": "lots"}, r"invalid size: 'lots'"),
    ({"memory": "nan"}, r"invalid size: 'nan'"),
    ({"memory": "inf"}, r"invalid size: 'inf'"),
    ({"memory": "64m", "memory_swap": "32m"}, r"^Minimum memoryswap limit should be larger than memory limit"),
    ({"memory_swap": "64m"}, r"^You should always set the Memory limit when using Memoryswap limit"),
    ({"memory": "64m", "memory_swap": "-2"}, r"\"--memory-swap\" flag: invalid size: '-2'"),
    ({"cpus": "nan"}, r"^invalid argument \"nan\" for \"--cpus\" flag: failed to parse nan as a rational number$"),
    ({"cpus": "inf"}, r"failed to parse inf as a rational number"),
    ({"cpus": "1e400"}, r"failed to parse 1e400 as a rational number"),
    ({"cpus": "-1"}, r"^Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available$"),
    ({"cpus": "0.001"}, r"^Range of CPUs is from 0.01 to 2.00"),
    ({"cpus": "3"}, r"^Range of CPUs is from 0.01 to 2.00"),
    ({"cpu_shares": "1"}, r"^invalid --cpu-shares 1: must be between 2 and 262144"),
    ({"cpu_shares": "262145"}, r"^invalid --cpu-shares 262145"),
    ({"cpu_shares": "-3"}, r"^invalid --cpu-shares -3"),
    ({"cpu_shares": "nan"}, r"\"--cpu-shares\" flag: strconv.ParseInt: parsing \"nan\": invalid syntax"),
    ({"pids_limit": "-2"}, r"^invalid --pids-limit -2: must be positive, or 0 or -1 for unlimited$"),
    ({"pids_limit": "inf"}, r"\"--pids-limit\" flag"),
])
def test_refusals_are_dockers_one_line(flags, message):
    with pytest.raises(InvalidResourceError, match=message) as info:
        from_flags(host_cpus=2, **flags)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("args", [["--memory", "1k"], ["--cpus", "nan"], ["--pids-limit", "-7"],
                                  ["--cpu-shares", "inf"], ["--memory-swap", "1g"]])
def test_run_refuses_before_touching_anything(imgtool, store_root, args):
    result = imgtool("run", *args, "busybox", "true")
    assert result.returncode == 125, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imgtool: ") and "Traceback" not in result.stderr, result
