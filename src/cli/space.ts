/** The canonical space (F, frame) that a recorded run's parameters describe: for merge and reproject. */
import { canonicalFaceImage, canonicalFrame, loadCanonicalFaceModel, loadExternalAlignment, type CanonicalMapSpace } from '../index.js';

export async function spaceFromParams(params: { canonicalSize?: number; alignment?: { kind?: string; dir?: string; stride?: number } }, size: number): Promise<CanonicalMapSpace> {
  if (params.alignment?.kind === 'external' && params.alignment.dir) {
    const ext = await loadExternalAlignment(params.alignment.dir, { stride: params.alignment.stride ?? 20 });
    return { size, face: ext.canonicalImage };
  }
  return { size, face: await canonicalFaceImage(size), frame: canonicalFrame(await loadCanonicalFaceModel(), size) };
}
