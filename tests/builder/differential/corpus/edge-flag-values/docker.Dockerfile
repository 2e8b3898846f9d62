FROM busybox
ARG D=default
ARG E=keep
RUN echo "[$D] [${D:-dflt}] [$E]" > /args
COPY --chmod=0 a.txt /mode0
COPY --chmod=755 a.txt /setuid
COPY --chmod=777 dir /sticky-dir/
COPY --chmod=750 dir /sgid-dir
COPY --chown=:5 a.txt /group-only
COPY --chown=root a.txt /root-name
COPY --chown=nobody:65534 a.txt /mixed
COPY --chown=0:nobody --chmod=0440 a.txt /both
RUN chmod 4755 /setuid && cd /sticky-dir && chmod -R 1777 f sub && cd /sgid-dir && chmod -R 2750 f sub
