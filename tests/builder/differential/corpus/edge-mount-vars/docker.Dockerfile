FROM busybox AS tools
RUN mkdir /tools && echo t > /tools/t
FROM busybox
ARG TGT=/m
ARG SRCDIR=/tools
ENV CACHE_ID=c1
RUN --mount=from=tools,source=/tools,target=/m cp /m/t /copied
RUN --mount=type=cache,id=c1,target=/cache echo hi > /cache/x && cp /cache/x /from-cache
