#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with uvu, streams its output, and ends
// with one plain summary line ("uvu: N passed, N failed, N skipped") that CI logs can be read by.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// uvu's package exports hide bin.js, so locate it on disk.
const uvu = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url));
const args = [uvu, 'dist/test', '\\.test\\.js$', ...process.argv.slice(2)];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const num = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? NaN);
  const total = num('Total');
  const passed = num('Passed');
  // Tests that return early print "  SKIP what: why" (test/helpers/data.ts); count them as skipped.
  const early = (plain.match(/^\s*(?:• )*\s*SKIP /gm) ?? []).length;
  const skipped = num('Skipped') + early;
  if (Number.isNaN(total)) {
    console.log('uvu: 0 passed, 1 failed (the test run ended before its summary)');
    process.exit(code || 1);
  }
  const failed = total - passed - num('Skipped');
  console.log(`uvu: ${passed - early} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(code !== 0 ? code : failed > 0 ? 1 : 0);
});
