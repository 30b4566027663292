/**
 * The dense drops that bench/sampling.ts simulates every sampling from, computed once per model and
 * cached in .cache/sampling-dense/<model>-stride<s>.json (git-ignored; delete it to recompute).
 *
 * An occlusion's drop does not depend on which other points are occluded (each forward pass
 * occludes one patch), so any subset of an image's dense plan, with the dense drops of its points,
 * gives exactly the CIS a real run over that subset would give. Computing the dense drops is the
 * whole cost of the bench; every strategy and budget after that is arithmetic.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeCis, DEFAULT_EXPLAIN, Explainer, openEngine, resolveModel, type OcclusionPlan } from '../src/index.js';
import { REPO_ROOT } from '../scripts/paths.js';

/** One image's dense plan and its drops. */
export interface DenseImage { file: string; plan: OcclusionPlan; drops: Float32Array; baseline: number }

const f32 = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const i32 = (a: Int32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const toF32 = (s: string): Float32Array => { const b = Buffer.from(s, 'base64'); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
const toI32 = (s: string): Int32Array => { const b = Buffer.from(s, 'base64'); return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };

function serialise(d: DenseImage): object {
  const p = d.plan;
  return {
    file: d.file, baseline: d.baseline, drops: f32(d.drops),
    plan: { ...p, centres: f32(p.centres), canonical: f32(p.canonical), inputRects: i32(p.inputRects), canonicalRects: i32(p.canonicalRects), fill: f32(p.fill) },
  };
}

function deserialise(o: { file: string; baseline: number; drops: string; plan: Record<string, unknown> }): DenseImage {
  const p = o.plan as Record<string, string> & OcclusionPlan;
  const plan: OcclusionPlan = {
    ...p, centres: toF32(p.centres as unknown as string), canonical: toF32(p.canonical as unknown as string), inputRects: toI32(p.inputRects as unknown as string),
    canonicalRects: toI32(p.canonicalRects as unknown as string), fill: toF32(p.fill as unknown as string),
  };
  return { file: o.file, baseline: o.baseline, drops: toF32(o.drops), plan };
}

/**
 * The dense drops of `model` over `photos` at `stride` (cached; a cache holding fewer photos is
 * extended, images already there are not recomputed). Photos whose face is refused are skipped
 * (logged) and remembered as such. `maxSeconds` bounds the new work.
 */
export async function denseDrops(model: string, photos: string[], options: { stride: number; engine: string; maxSeconds?: number }): Promise<{ images: DenseImage[]; seconds: number }> {
  const dir = join(REPO_ROOT, '.cache', 'sampling-dense');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${model}-stride${options.stride}.json`);
  const cache: { images: ReturnType<typeof serialise>[]; skipped: string[]; seconds: number } = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : { images: [], skipped: [], seconds: 0 };
  const have = new Set([...cache.images.map((x) => (x as { file: string }).file), ...cache.skipped]);
  const todo = photos.filter((f) => !have.has(f));
  if (todo.length) {
    const spec = await resolveModel(model);
    const session = await openEngine(options.engine, spec);
    const ex = await Explainer.create(spec.spec, session, { ...DEFAULT_EXPLAIN, stride: options.stride });
    const t0 = performance.now();
    let n = 0;
    for (const file of todo) {
      if ((performance.now() - t0) / 1000 > (options.maxSeconds ?? Infinity)) break;
      const t = performance.now();
      try {
        const p = await ex.prepare(file);
        const plan = ex.plan(p);
        const { score } = await ex.predict(p);
        const cis = await computeCis(session, { input: p.tensor, plan, score });
        cache.images.push(serialise({ file, plan, drops: cis.drops, baseline: cis.baseline }));
      } catch (e) {
        console.log(`skip ${file}: ${(e as Error).message}`);
        cache.skipped.push(file);
      }
      cache.seconds += (performance.now() - t) / 1000;
      if (++n % 10 === 0) {
        console.log(`${model}: ${n}/${todo.length} new images, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        writeFileSync(path, JSON.stringify(cache));
      }
    }
    writeFileSync(path, JSON.stringify(cache));
    await ex.dispose();
    await session.dispose();
  }
  const wanted = new Set(photos);
  const images = cache.images.map((x) => deserialise(x as Parameters<typeof deserialise>[0])).filter((d) => wanted.has(d.file));
  images.sort((a, b) => (a.file < b.file ? -1 : 1));
  return { images, seconds: cache.seconds };
}
