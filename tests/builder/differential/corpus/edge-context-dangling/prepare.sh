printf 1 > one.txt
ln -s missing dangling.txt
mkdir d
ln -s ../missing d/dl
