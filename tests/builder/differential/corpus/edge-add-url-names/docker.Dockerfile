FROM busybox
ARG HTTP_BASE
RUN mkdir /existing
ADD ${HTTP_BASE}/hello.txt?version=1&x=y /query/
ADD ${HTTP_BASE}/hello.txt#frag /fragment/
ADD ${HTTP_BASE}/hello.txt /existing
ADD ${HTTP_BASE}/hello.txt ${HTTP_BASE}/archive.tar.gz /two/
ADD ${HTTP_BASE}/hello.txt /chmodded
RUN chmod 755 /chmodded
WORKDIR /wd
ADD ${HTTP_BASE}/hello.txt .
ADD --chmod=750 local.txt /local-chmodded
ADD ${HTTP_BASE}/ /unnamed/
