FROM busybox
COPY a.txt /linked/a.txt
COPY --chown=65534:65534 sub /linked-dir/
COPY sub/deep/x.txt sub/deep/y.txt /parents/sub/deep/
COPY docs/keep.txt /parents-mixed/docs/
COPY a.txt /parents-mixed/
COPY docs/keep.txt /excluded/
COPY sub/deep/x.txt sub/deep/y.txt /excluded-deep/deep/
COPY --chmod=755 a.txt /sym-chmod-1
COPY --chmod=755 a.txt /sym-chmod-2
COPY --chmod=600 a.txt /sym-chmod-3
COPY sub /sym-chmod-dir/
