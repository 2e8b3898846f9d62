printf 'nl' > 'new
line'
: > empty
mkdir -p 'sp ace/in ner' emptydir
printf t > 'sp ace/in ner/t t'
printf u > 'ü é.txt'
printf 't' > 'tab	name'
ln -s 'sp ace' 'link to space'
ln 'ü é.txt' 'hard ü'
