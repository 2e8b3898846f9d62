python3 - <<'PY'
import io, tarfile
def add(t, name, data=b"", **kw):
    i = tarfile.TarInfo(name); i.size = len(data)
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if data else None)
with tarfile.open("abs.tar", "w") as t:
    add(t, "/abs.txt", b"abs\n", mode=0o644)
    add(t, "/absdir/in.txt", b"in\n", mode=0o644)
with tarfile.open("dots.tar", "w") as t:
    add(t, "./a/./b.txt", b"b\n", mode=0o644)
    add(t, "a//c.txt", b"c\n", mode=0o644)
    add(t, "a/d/../e.txt", b"e\n", mode=0o644)
PY
