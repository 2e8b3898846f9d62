set -e
mkdir -p src/lib src/deep/er other
echo 1 > package.json; echo 2 > package-lock.json; echo 3 > src/index.js; echo 4 > src/lib/a.test.js
echo 5 > src/keep.test.js; echo 6 > src/deep/er/b.test.js; echo 7 > src/deep/er/c.js; echo 8 > other/x; echo 9 > README.md
