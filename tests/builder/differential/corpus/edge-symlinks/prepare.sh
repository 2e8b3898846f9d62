mkdir -p dir/sub
echo target > dir/real.txt
echo deep > dir/sub/deep.txt
ln -s real.txt dir/rel-link
ln -s /etc/passwd dir/abs-link
ln -s nowhere dir/dangling
ln -s sub dir/dirlink
ln -s dir/real.txt top-link
ln -s dir topdir-link
