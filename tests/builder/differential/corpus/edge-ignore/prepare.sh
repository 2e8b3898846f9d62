set -e
mkdir -p app/node_modules/x src/node_modules docs .git logs
echo 1 > app/main.js; echo 2 > app/node_modules/x/i.js; echo 3 > src/node_modules/y.js
echo 4 > docs/README.md; echo 5 > docs/other.md; echo 6 > .git/HEAD; echo 7 > logs/a.log
echo 8 > keep.log; echo 9 > drop.log; echo 10 > 'space name.txt'; echo 11 > .hidden
