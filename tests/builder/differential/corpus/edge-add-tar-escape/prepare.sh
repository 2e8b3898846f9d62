python3 - <<'PY'
import io, tarfile
with tarfile.open("escape.tar", "w") as t:
    for name in ("../up.txt", "../../../../root-escape.txt", "ok.txt"):
        i = tarfile.TarInfo(name); i.size = 3; t.addfile(i, io.BytesIO(b"hi\n"))
PY
