/**
 * Where the test data lives: ../shared/data beside the checkout (never copied into the repo).
 * Tests that need it print why they skip when it is absent.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run from dist/test/..., sources live in test/...). */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const CELEBA_DIR = process.env['CSM_TEST_DATA'] ? resolve(process.env['CSM_TEST_DATA']) : resolve(REPO_ROOT, '..', 'shared', 'data', 'csm-celeba100');

export function celebaImages(): string[] | undefined {
  const dir = join(CELEBA_DIR, 'images');
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(dir, f));
}

/**
 * Logs a visible skip line (never a silent skip); the test runner counts these lines as skips.
 * In CI (CI=true) the data must be there, so a missing-data skip fails instead.
 */
export function skip(what: string, why: string): void {
  if (process.env['CI'] === 'true') throw new Error(`${what}: ${why}; CI must run this test`);
  console.log(`  SKIP ${what}: ${why}`);
}
