mkdir -p w/over w/sub && echo new > w/over/f && echo s > w/sub/s && chmod 0750 w/sub && ln -s sub w/lnk
(cd w && tar --owner=1234 --group=4321 -cf ../t1.tar over sub lnk)
mkdir -p w2/link && echo via > w2/link/x 
(cd w2 && tar -czf ../t2.tar.gz link)
echo plain | gzip > plain.gz
echo "not a tar" > notatar.tar
mkdir -p dir && cp t1.tar dir/inner.tar
mkdir -p h && echo data > h/a && ln h/a h/b && (cd h && tar -cf ../hl.tar a b)
rm -rf w w2 h
mkdir -p r/in && echo r > r/in/f && chmod 0700 r && (cd r && tar --owner=77 --group=88 -cf ../root.tar .) && rm -rf r
mkdir -p fd/thing && echo d > fd/thing/x && (cd fd && tar -cf ../filedir.tar thing) && rm -rf fd
