mkdir -p t/inner && echo t > t/inner/t && tar cf arch.tar -C t inner && rm -rf t
