"""docker's rmi rule for an image a container was made from: its last name goes only with -f, and
the image then stays as `<none>` (the container still runs from it) until the container is gone."""

from __future__ import annotations


def test_rmi_of_an_image_in_use(cstore, imgtool):
    imgtool("tag", "busybox", "inuse", check=True)
    imgtool("rmi", "busybox", check=True)  # another name is left: a plain untag
    cid = imgtool("run", "-d", "inuse", "sleep", "100", check=True).stdout.strip()
    image_id = cstore.resolve("inuse").id.removeprefix("sha256:")[:12]
    r = imgtool("rmi", "inuse")
    assert r.returncode == 1 and r.stderr == (
        f'imgtool: conflict: unable to remove repository reference "inuse" (must force) - container {cid[:12]} '
        f"is using its referenced image {image_id}\n"), r
    assert imgtool("rmi", "-f", "inuse", check=True).stdout == "Untagged: inuse:latest\n"
    listed = imgtool("images", check=True).stdout.splitlines()[1:]
    assert [line.split()[:3] for line in listed] == [["<none>", "<none>", image_id]]
    assert imgtool("exec", cid, "true").returncode == 0  # still running from it
    imgtool("rm", "-f", cid, check=True)
