mkdir t && echo z > t/z && tar -cf x.tar t && zstd -q x.tar -o x.tar.zst && rm -r t
