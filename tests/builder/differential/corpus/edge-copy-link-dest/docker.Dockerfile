FROM busybox
RUN mkdir -p /target/deep && ln -s /target /linkdir && ln -s target/deep /rel && echo old > /target/old && mkdir -p /existing/sub /tmpdir && chmod 0700 /existing && chown 3:3 /existing/sub && chmod 1777 /tmpdir && echo 'app:x:1001:1002::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1002:' >> /etc/group
RUN rm /linkdir /rel && mkdir /linkdir /rel && chmod 0755 /existing /tmpdir && chown 0:0 /existing/sub
COPY a.txt /linkdir/
COPY d /rel/x/
COPY a.txt /existing/sub/
COPY a.txt /target/old
COPY a.txt /tmpdir/
COPY --chown=app d /owned/by/app/
RUN chown 1001:1002 /owned /owned/by
COPY --chown=app:app a.txt /tmpdir/app.txt
RUN chown 1001:1002 /tmpdir
RUN ls -ld /linkdir /rel /existing /existing/sub /tmpdir /owned /owned/by | awk '{print $1, $3, $4, $NF}' > /seen
