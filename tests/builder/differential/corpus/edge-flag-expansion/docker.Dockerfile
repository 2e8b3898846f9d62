FROM busybox
ARG MODE=640
ARG OWNER=12:34
ENV DIRMODE=750
COPY --chmod=640 a.txt /m1
COPY --chmod=750 --chown=$OWNER dir /d1/
ADD --chmod=640 a.txt /m2
