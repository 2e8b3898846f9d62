FROM busybox
ADD x.tar /zst/
