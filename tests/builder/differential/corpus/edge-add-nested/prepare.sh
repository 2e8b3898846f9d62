set -e
mkdir -p dir t1 t2; echo i > inner; tar -cf dir/inner.tar inner; echo one > t1/f1; echo two > t2/f2
tar -cf one.tar t1; tar -cf two.tar t2; rm -r t1 t2 inner
