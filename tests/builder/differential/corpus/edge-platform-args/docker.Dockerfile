FROM --platform=$BUILDPLATFORM busybox AS build
ARG TARGETARCH
ARG TARGETOS
RUN echo "$TARGETOS/$TARGETARCH" > /target
FROM --platform=${TARGETPLATFORM:-linux/amd64} busybox
ARG TARGETARCH
COPY --from=build /target /
RUN echo "global-then-stage=$TARGETARCH" > /seen
