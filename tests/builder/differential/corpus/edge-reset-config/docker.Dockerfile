FROM busybox AS parent
ENTRYPOINT ["/bin/echo"]
CMD ["parent"]
HEALTHCHECK CMD ["CMD-SHELL", "exit 0"]
USER nobody
WORKDIR /pw

FROM parent
ENTRYPOINT []
HEALTHCHECK --retries=2 CMD true
USER ""
WORKDIR /
