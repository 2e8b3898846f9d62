FROM busybox AS stage
RUN mkdir -p /opt/app/lib && echo lib > /opt/app/lib/l.so && echo bin > /opt/app/run
FROM busybox
COPY a/b/c/f.txt /p2/b/c/
COPY a/b /p3/b/
COPY x/y/*.txt /p4/y/
COPY a/b/c/f.txt /p4/c/
COPY --from=stage /opt/app/lib /from/app/lib/
WORKDIR /w
COPY a/b/g.txt b/
