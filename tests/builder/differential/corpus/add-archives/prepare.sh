set -e
mkdir -p t/sub; echo one > t/one; echo two > t/sub/two; ln -s one t/link; chmod 0640 t/sub/two
tar --owner=123 --group=456 -cf x.tar t
gzip -k x.tar; bzip2 -k x.tar; xz -k x.tar
cp x.tar archive.bin
echo not a tar > plain.txt; gzip plain.txt
rm -r t
