// Runs every browser end-to-end test, one process each, in order (`npm test`): console.e2e.mjs, then
// lifecycle.e2e.mjs. Each prints its own `e2e: N passed, M failed`; a test that fails does not stop the next one.
// The last line is always the total, `e2e: N passed, M failed`, and the exit status is 1 if any failed.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TESTS = ['console.e2e.mjs', 'lifecycle.e2e.mjs'];

let passed = 0;
let failed = 0;
let interrupted = false;
let current = null;
// The running test cleans up on its own signal; wait for it, then stop. Ctrl-C reaches it with the whole process
// group; a SIGTERM sent to this process alone is passed on.
process.on('SIGINT', () => {
  interrupted = true;
});
process.on('SIGTERM', () => {
  interrupted = true;
  current?.kill('SIGTERM');
});

for (const test of TESTS) {
  if (interrupted) break;
  const started = Date.now();
  console.log(`e2e: === ${test} ===`);
  const code = await new Promise((resolve) => {
    current = spawn(process.execPath, [path.join(HERE, test)], { stdio: 'inherit' });
    current.once('error', (err) => {
      console.error(`e2e: cannot run ${test}: ${err.message}`);
      resolve(1);
    });
    current.once('exit', (c, signal) => resolve(c ?? signal));
  });
  current = null;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (code === 0) {
    passed += 1;
    console.log(`e2e: === ${test} passed (${seconds}s) ===`);
  } else {
    failed += 1;
    console.log(`e2e: === ${test} FAILED (${code}, ${seconds}s) ===`);
  }
}

console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || interrupted ? 1 : 0;
