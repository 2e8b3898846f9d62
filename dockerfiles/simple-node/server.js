var express = require('express');

var app = express();
// 3000 as in the book; PORT lets a test pick a free one on a shared host network
var port = process.env.PORT || 3000;
app.get('/', function (req, res) {
  res.send('Hello World!');
});
app.listen(port, function () {
  console.log('Listening on port ' + port + '!');
  console.log('  http://localhost:' + port);
});
