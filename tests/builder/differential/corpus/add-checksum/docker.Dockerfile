FROM busybox
ARG HTTP_BASE
ADD ${HTTP_BASE}/hello.txt /checked.txt
