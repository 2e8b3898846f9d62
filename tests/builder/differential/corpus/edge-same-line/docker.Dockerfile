ARG M1=m1 M2=${M1}-two
ARG M3=$M2+three
FROM busybox
ARG M1 M2 M3
ENV X=one Y=[$X]
ENV X=two Z=$X
ARG A=1
ARG B=[$A]
ARG C=c
ENV W=$C C=envc V=$C
ENV E1= E2=x${E1}y
LABEL l1=$X l2=${Z} l3=$C l4=$B
RUN echo "$M1|$M2|$M3|$X|$Y|$Z|$A|$B|$W|$V|$C|$E2" > /seen
