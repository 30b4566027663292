/**
 * Outputs are written atomically: a full disk (ENOSPC) or a failing device (EIO) during a write
 * becomes one sentence naming the file, leaves no partial or temporary file, and keeps an older
 * file's contents; too little free space is refused before anything is written. The full disk is
 * injected (no root needed): the writer is replaced, and where /dev/full exists the error it
 * throws is the kernel's own ENOSPC from writing to /dev/full.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkFreeSpace, CheckpointError, CmsAccumulator, loadAccumulator, OutputSpaceError, OutputWriteError, saveAccumulator, writeCanonicalMap,
  writeFileAtomic, writeFilesAtomic, type AtomicIo,
} from '../../src/index.js';
import { checkpointFiles } from '../helpers/checkpoint-files.js';

/** An ENOSPC error: the kernel's (writing to /dev/full) where it can, else a made-up one. */
async function enospc(): Promise<Error> {
  if (existsSync('/dev/full')) {
    const fh = await open('/dev/full', 'w');
    try {
      await fh.write(Buffer.alloc(4096, 1));
    } catch (e) {
      return e as Error;
    } finally {
      await fh.close();
    }
  }
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
}

/** A writer that writes half of the bytes of the `failAt`-th file, then fails with `error`. */
function failingWriter(failAt: number, error: Error): AtomicIo['write'] & { calls: number } {
  const w = async (handle: FileHandle, bytes: Uint8Array): Promise<void> => {
    w.calls++;
    if (w.calls === failAt) {
      await handle.write(bytes.subarray(0, bytes.length >> 1));
      throw error;
    }
    await handle.writeFile(bytes);
  };
  w.calls = 0;
  return w;
}

const oneSentence = (message: string): void => {
  assert.not.match(message, /\n/, 'one line');
  assert.not.match(message, /\bat .*\.js:\d+/, 'no stack trace');
  assert.is(message.split(/[.;:] [A-Z]/).length, 1, `one sentence: ${message}`);
};

test('writeFilesAtomic writes every file, leaves no temporary file, and overwrites whole files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-atomic-'));
  try {
    const paths = await writeFilesAtomic([{ path: join(dir, 'a.bin'), data: new Uint8Array([1, 2, 3]) }, { path: join(dir, 'b.md'), data: 'héllo\n' }]);
    assert.equal(paths, [join(dir, 'a.bin'), join(dir, 'b.md')]);
    assert.equal([...(await readFile(join(dir, 'a.bin')))], [1, 2, 3]);
    assert.is(await readFile(join(dir, 'b.md'), 'utf8'), 'héllo\n');
    await writeFileAtomic(join(dir, 'a.bin'), new Uint8Array([9]));
    assert.equal([...(await readFile(join(dir, 'a.bin')))], [9]);
    assert.equal((await readdir(dir)).sort(), ['a.bin', 'b.md']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ENOSPC while writing the second of three files: one sentence naming it, no partial file, old files kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-atomic-'));
  try {
    await writeFile(join(dir, 'cms-jet.png'), 'the previous run\'s figure');
    const err = await enospc();
    const write = failingWriter(2, err);
    const files = [
      { path: join(dir, 'cms.npy'), data: new Uint8Array(10000).fill(7) },
      { path: join(dir, 'cms-jet.png'), data: new Uint8Array(20000).fill(8) },
      { path: join(dir, 'cms.json'), data: '{}\n' },
    ];
    try {
      await writeFilesAtomic(files, { io: { write } });
      assert.unreachable('the write should fail');
    } catch (e) {
      assert.instance(e, OutputWriteError);
      const w = e as OutputWriteError;
      assert.is(w.file, join(dir, 'cms-jet.png'));
      assert.is(w.code, 'ENOSPC');
      assert.is(w.message, `cannot write "${join(dir, 'cms-jet.png')}": the disk is full (ENOSPC); no partial file was left`);
      oneSentence(w.message);
    }
    assert.is(write.calls, 2, 'the third file was not started');
    // nothing of the set was written: no new cms.npy, the old figure intact, no temporary files
    assert.equal((await readdir(dir)).sort(), ['cms-jet.png']);
    assert.is(await readFile(join(dir, 'cms-jet.png'), 'utf8'), 'the previous run\'s figure');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('EIO and other causes are named; the temporary file is removed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-atomic-'));
  try {
    const eio = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    await writeFileAtomic(join(dir, 'x.npy'), new Uint8Array(100), { io: { write: failingWriter(1, eio) } }).then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /^cannot write ".*x\.npy": the device reported an input\/output error \(EIO\); no partial file was left$/),
    );
    const odd = Object.assign(new Error('EWEIRD: something odd'), { code: 'EWEIRD' });
    await writeFileAtomic(join(dir, 'y.npy'), new Uint8Array(100), { io: { write: failingWriter(1, odd) } }).then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /y\.npy": EWEIRD: something odd; no partial file was left/),
    );
    assert.equal(await readdir(dir), []);
    // a folder that is not there
    await writeFileAtomic(join(dir, 'nowhere', 'z.png'), 'x').then(
      () => assert.unreachable(),
      (e: Error) => assert.match(e.message, /z\.png": its folder does not exist \(ENOENT\)/),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('too little free space is refused before anything is written, naming the folder and both sizes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-atomic-'));
  try {
    const write = failingWriter(99, new Error('unused'));
    const statfs = async (): Promise<{ bavail: number; bsize: number }> => ({ bavail: 10, bsize: 4096 });
    try {
      await writeFilesAtomic([{ path: join(dir, 'cms.npy'), data: new Uint8Array(40000) }, { path: join(dir, 'cms.json'), data: '{}' }], { io: { statfs, write } });
      assert.unreachable('should be refused');
    } catch (e) {
      assert.instance(e, OutputSpaceError);
      // 40000 bytes take 10 blocks, the JSON one more: 45056 bytes against 40960 free
      assert.is((e as Error).message, `not enough free space in "${dir}": the outputs need 45.1 kB (45056 bytes) but only 41.0 kB (40960 bytes) is free, so nothing was written`);
      oneSentence((e as Error).message);
    }
    assert.is(write.calls, 0, 'no byte written');
    assert.equal(await readdir(dir), []);
    // exactly enough passes; a file system that cannot say passes
    await checkFreeSpace(dir, [40960], { statfs });
    await checkFreeSpace(dir, [1e15], { statfs: async () => { throw new Error('ENOSYS'); } });
    // the real statfs: this folder has room for a few bytes, and not for an exabyte
    await checkFreeSpace(dir, [10]);
    await checkFreeSpace(dir, [1e18]).then(() => assert.unreachable(), (e: Error) => assert.instance(e, OutputSpaceError));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the final CMS outputs (writeCanonicalMap) on a full disk: one sentence, no truncated cms.npy, no empty PNG', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-atomic-'));
  try {
    const size = 16;
    const map = Float32Array.from({ length: size * size }, (_, i) => Math.sin(i));
    const space = { size, face: { width: size, height: size, data: new Float32Array(3 * size * size).fill(128) } };
    const ok = await writeCanonicalMap(join(dir, 'ok'), 'cms', map, space, { kind: 'CMS' });
    assert.equal(ok.files.map((f) => f.slice(dir.length + 4)).sort(), ['cms-jet.png', 'cms-overlay.png', 'cms-turbo.png', 'cms.json', 'cms.npy']);
    const err = await enospc();
    for (const failAt of [1, 3, 5]) {
      const out = join(dir, `full-${failAt}`);
      await writeCanonicalMap(out, 'cms', map, space, { kind: 'CMS' }, 'jet', { io: { write: failingWriter(failAt, err) } }).then(
        () => assert.unreachable(),
        (e: Error) => {
          assert.instance(e, OutputWriteError);
          assert.match(e.message, /^cannot write ".*full-\d\/cms[^"]*": the disk is full \(ENOSPC\); no partial file was left$/);
        },
      );
      assert.equal(await readdir(out), [], `failure at file ${failAt}: nothing left behind`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a checkpoint save on a full disk keeps the previous checkpoint loadable and names the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-atomic-'));
  try {
    const acc = new CmsAccumulator(8);
    acc.add({ map: new Float32Array(64).fill(0.5), count: new Uint32Array(64).fill(1) }, 'a.jpg');
    await saveAccumulator(dir, acc, { next: 1 });
    acc.add({ map: new Float32Array(64).fill(0.25), count: new Uint32Array(64).fill(1) }, 'b.jpg');
    const err = await enospc();
    await saveAccumulator(dir, acc, { next: 2 }, { io: { write: failingWriter(3, err) } }).then(
      () => assert.unreachable(),
      (e: Error) => {
        assert.instance(e, CheckpointError);
        assert.match(e.message, /^cannot save CMS checkpoint file ".*cms-state\.json": the disk is full \(ENOSPC\); no partial file was left$/);
      },
    );
    assert.equal((await readdir(dir)).sort(), checkpointFiles(dir), 'the previous checkpoint\'s files only');
    const back = await loadAccumulator(dir);
    assert.is(back.acc.images, 1, 'the previous checkpoint, whole');
    assert.equal(back.extra, { next: 1 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
