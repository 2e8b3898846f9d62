FROM busybox
COPY . /ctx/
