FROM busybox
ARG NAME=world
RUN printf 'first\nsecond\n' > /heredoc-1
RUN echo tabs-stripped > /heredoc-2
RUN echo '$NAME not expanded' > /heredoc-3
RUN echo 'from an awk script' > /heredoc-4
RUN echo "hello ${NAME}" > /etc/heredoc-file
RUN mkdir /multi && echo 'first file' > /multi/one && echo 'second file' > /multi/two
RUN cat /multi/one /multi/two > /heredoc-5
RUN echo SHOUTED > /heredoc-6
