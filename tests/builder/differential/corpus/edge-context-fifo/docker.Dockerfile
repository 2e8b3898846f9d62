FROM busybox
COPY . /ctx/
RUN mkfifo -m 644 /ctx/fifo
