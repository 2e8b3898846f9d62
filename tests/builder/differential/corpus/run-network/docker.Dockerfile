FROM busybox
RUN echo lo > /net-none
RUN echo offline > /net-offline
RUN echo host > /net-host
RUN echo default > /net-default
