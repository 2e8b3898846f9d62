set -e
mkdir -p src/util node_modules/x .git
echo '{"name":"demo"}' > package.json; echo '{}' > package-lock.json; echo 'main' > src/index.js; echo u > src/util/u.js
echo r > README.md; echo c > CHANGELOG.md; echo x > node_modules/x/i.js; echo h > .git/HEAD
