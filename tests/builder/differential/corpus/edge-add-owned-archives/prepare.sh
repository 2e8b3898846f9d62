mkdir -p src/sub
printf a > src/sub/a
printf b > src/b
ln -s sub/a src/l
chown 7:7 src/b
tar -cf t.tar -C src .
tar -czf t.tgz -C src .
printf 'plain text\n' | gzip -n > plain.gz
printf 'plain text\n' | bzip2 > plain.bz2
rm -r src
