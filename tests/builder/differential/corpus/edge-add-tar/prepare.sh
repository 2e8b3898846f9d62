python3 - <<'PY'
import io, tarfile
def add(t, name, data=b"", **kw):
    i = tarfile.TarInfo(name); i.size = len(data)
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if data else None)
with tarfile.open("owned.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "top", type=tarfile.DIRTYPE, mode=0o700, uid=1000, gid=1000)
    add(t, "top/file", b"owned\n", mode=0o640, uid=1000, gid=2000, uname="someone", gname="grp")
    add(t, "top/link", type=tarfile.SYMTYPE, linkname="file")
    add(t, "top/hard", type=tarfile.LNKTYPE, linkname="top/file")
    add(t, "./dotted", b"dot\n", mode=0o755)
    add(t, "nodir/implied/x", b"x\n", mode=0o600)
with tarfile.open("etc.tar.gz", "w:gz") as t:
    add(t, "etc/added.conf", b"conf\n", mode=0o644)
    add(t, "etc/hostname", b"replaced\n", mode=0o600)
PY
printf 'not really a tar\n' > fake.tar
