FROM busybox
RUN echo 1024 > /tmpfs-size
RUN --mount=type=secret,id=token echo "$(cat /run/secrets/token | wc -c)" > /token-length
RUN --mount=type=cache,target=/c,uid=65534,gid=65534,mode=0700 stat -c '%u %g %a' /c > /cache-stat
