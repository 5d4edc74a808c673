// Parses SOQL queries with soql-parser-js and prints one JSON line per query:
// {"ok":true,"query":<parseQuery output>} or {"ok":false,"error":"..."}.
// Queries come one per line from the file named as the first argument, or from stdin.
// Blank lines and lines starting with # are skipped, as in the Go test corpus.
'use strict';

const fs = require('fs');
const { parseQuery } = require('soql-parser-js');

const input = fs.readFileSync(process.argv[2] || 0, 'utf8');
const out = [];
for (const line of input.split('\n')) {
  if (line.trim() === '' || line.startsWith('#')) {
    continue;
  }
  try {
    out.push(JSON.stringify({ ok: true, query: parseQuery(line) }));
  } catch (err) {
    out.push(JSON.stringify({ ok: false, error: String(err && err.message ? err.message : err) }));
  }
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
