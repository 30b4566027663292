/**
 * Peak RSS of one CMS run (run by bench/pipeline.ts in a fresh process): `node dist/bench/rss.js
 * --count N [--front-end auto|workers|inline] [--prefetch N]` (inline with --prefetch 0 is the
 * serial run). The list holds N distinct symlinks (in a temp dir) to the csm-celeba100 photos, so
 * the run sees N different files; gender, stride 16, canonical size 128, checkpoints every 25
 * images, as `csm cms` runs it. Prints one JSON line.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createFrontEnd, DEFAULT_EXPLAIN, Explainer, listImages, openEngine, resolveModel, runCms, type FrontEndKind } from '../src/index.js';
import { celebaImages } from '../test/helpers/data.js';

const { values } = parseArgs({ options: { count: { type: 'string' }, 'front-end': { type: 'string' }, prefetch: { type: 'string' } } });
const count = Number(values.count ?? 100);
const photos = celebaImages();
if (!photos) throw new Error('needs ../shared/data/csm-celeba100 (or CSM_TEST_DATA)');
const dir = mkdtempSync(join(tmpdir(), 'csm-rss-'));
try {
  const names: string[] = [];
  for (let k = 0; k < count; k++) {
    const name = `${String(k).padStart(5, '0')}-${basename(photos[k % photos.length]!)}`;
    symlinkSync(photos[k % photos.length]!, join(dir, name));
    names.push(name);
  }
  writeFileSync(join(dir, 'list.txt'), `${names.join('\n')}\n`);
  const files = await listImages(join(dir, 'list.txt'));
  const model = await resolveModel('gender');
  const session = await openEngine('cpu', model);
  const explainer = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 16, canonicalSize: 128 });
  const frontEnd = await createFrontEnd(explainer, { kind: (values['front-end'] ?? 'auto') as FrontEndKind, ...(values.prefetch ? { depth: Number(values.prefetch) } : {}) });
  const every: number[] = [];
  const labels: Record<string, number> = {};
  try {
    const r = await runCms(files, (f, p) => explainer.cis(p?.[0] ?? f), explainer.canonicalSize, {
      checkpointDir: join(dir, 'checkpoint'), checkpointEvery: 25, resume: false, fingerprint: {}, frontEnd,
      onImage: (res) => { const l = res.prediction.label ?? '?'; labels[l] = (labels[l] ?? 0) + 1; },
      onProgress: (p) => { if (p.done % 100 === 0) every.push(process.memoryUsage().rss / 2 ** 20); },
    });
    if (r.acc.images + r.skipped.length !== count) throw new Error('not every image was counted');
    const maxRssMiB = process.resourceUsage().maxRSS / 1024;
    console.log(JSON.stringify({ images: count, maxRssMiB, seconds: r.seconds, rssMiBEvery100: every, frontEnd: frontEnd.description }));
  } finally {
    await frontEnd.close();
    await explainer.dispose();
    await session.dispose();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
