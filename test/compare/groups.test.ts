/** The groups CSV of csm compare / csm paper: parsing, and which folder relative paths come from. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupsBase, readGroups } from '../../src/index.js';

/** Resolves when `run` rejects with a message matching `pattern`; fails otherwise. */
async function rejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

const root = mkdtempSync(join(tmpdir(), 'csm-groups-'));
mkdirSync(join(root, 'photos'));
mkdirSync(join(root, 'lists'));
const csv = join(root, 'lists', 'groups.csv');
writeFileSync(csv, 'file,group\r\na.jpg,young\r\n# a comment\r\nsub/b,c.jpg,old\r\n/abs/d.jpg,young\r\n');
writeFileSync(join(root, 'lists', 'photos.txt'), 'a.jpg\n');

test('relative paths come from --images (a folder, or a list file\'s folder), else from the CSV\'s folder', async () => {
  assert.is(await groupsBase(csv), join(root, 'lists'));
  assert.is(await groupsBase(csv, join(root, 'photos')), join(root, 'photos'));
  assert.is(await groupsBase(csv, join(root, 'lists', 'photos.txt')), join(root, 'lists'), 'a list file is not a folder to join paths to');
  await rejects(() => groupsBase(csv, join(root, 'nowhere')), /"[^"]*nowhere" does not exist/);
});

test('rows: header and comments skipped, the last comma splits, absolute paths kept, exactly two groups', async () => {
  const rows = await readGroups(csv, join(root, 'photos'));
  assert.equal(rows, [
    { file: join(root, 'photos', 'a.jpg'), group: 'young' },
    { file: join(root, 'photos', 'sub', 'b,c.jpg'), group: 'old' },
    { file: '/abs/d.jpg', group: 'young' },
  ]);
  const three = join(root, 'three.csv');
  writeFileSync(three, 'a.jpg,x\nb.jpg,y\nc.jpg,z\n');
  await rejects(() => readGroups(three, root), /needs exactly two groups, found 3 \(x, y, z\)/);
  const bad = join(root, 'bad.csv');
  writeFileSync(bad, 'a.jpg,x\nb.jpg\n');
  await rejects(() => readGroups(bad, root), /bad\.csv:2: expected "file,group", got "b\.jpg"/);
});

test.run();
