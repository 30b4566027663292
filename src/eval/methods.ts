/**
 * The saliency methods the evaluation compares, by name: one registry that the `csm eval` command
 * line, its help and the library share. Each entry builds its method from a context that holds
 * the explained model, its explainer, an opener for the run's engine, the CAM layer and the CMS;
 * every model a method runs is opened on that engine.
 */
import { CsmError } from '../errors.js';
import type { ResolvedModel } from '../models/load.js';
import type { Explainer } from '../saliency/explain.js';
import { defaultPatch } from '../saliency/plan.js';
import type { ModelOpener } from '../engine/types.js';
import type { SaliencyMethod } from './baselines/base.js';
import { ReprojectedCms, type CanonicalMapSource } from './baselines/cms.js';
import { GradCam } from './baselines/grad-cam.js';
import { ImageOcclusion } from './baselines/occlusion.js';
import { ScoreCam } from './baselines/score-cam.js';
import { exposeTensors, findCamLayer, type CamLayer } from './expose.js';

export interface MethodContext {
  /** The explained model. */
  model: ResolvedModel;
  /** Its explainer (its engine session runs image-space occlusion; its options give the patch). */
  explainer: Explainer;
  /** Opens the model's rewrites (exposed layers) on the run's engine. */
  open: ModelOpener;
  /**
   * The data set's CMS on the canonical grid (what `cms` reprojects): one map, or a map per image
   * (by default csm eval gives each image the CMS of the other folds, so no image is in its own).
   */
  cms: CanonicalMapSource;
  /** The image's own CIS on the canonical grid (what `cis` reprojects); absent: `cis` is unavailable. */
  cis?: (file: string) => Float32Array | Promise<Float32Array>;
  /** The CAM layer, resolved on first use (see `camLayerResolver`). */
  camLayer: () => Promise<CamLayer>;
}

export interface MethodEntry {
  /** The command-line token (`--methods`). */
  name: string;
  /** The method's name in tables and figures (its SaliencyMethod's `name`). */
  label: string;
  /** One line for `--help`. */
  description: string;
  /** Whether the method needs the CAM layer. */
  cam: boolean;
  /** Run only when named (not among the defaults, which are the paper's four methods). */
  extra?: boolean;
  create(context: MethodContext): Promise<SaliencyMethod>;
}

export const METHODS: readonly MethodEntry[] = [
  {
    name: 'cms', label: 'CMS', cam: false,
    description: 'the data set\'s CMS reprojected onto each image through its correspondence',
    create: async (c) => new ReprojectedCms(c.cms),
  },
  {
    name: 'grad-cam', label: 'Grad-CAM', cam: true,
    description: 'exact gradients of φ with respect to the CAM layer, averaged per channel',
    create: async (c) => GradCam.create(c.model, (await c.camLayer()).name, false, c.open),
  },
  {
    name: 'grad-cam++', label: 'Grad-CAM++', cam: true,
    description: 'exact gradients, with Grad-CAM++\'s positive-gradient channel weights',
    create: async (c) => GradCam.create(c.model, (await c.camLayer()).name, true, c.open),
  },
  {
    name: 'score-cam', label: 'Score-CAM', cam: true,
    description: 'Algorithm 1 of the paper (as pytorch-grad-cam): channel masks weighted by a softmax of the class logits',
    create: async (c) => {
      const layer = await c.camLayer();
      const session = await c.open({ ...c.model, path: await exposeTensors(c.model.path, [layer.name]) }, { batch: 64 });
      return new ScoreCam(session, c.model.spec.input, layer.name, layer.dims, 'softmax-logit');
    },
  },
  {
    name: 'score-cam-linear', label: 'Score-CAM (linear)', cam: true, extra: true,
    description: 'Score-CAM as the authors\' released code weights channels: the class probability, linearly',
    create: async (c) => {
      const layer = await c.camLayer();
      const session = await c.open({ ...c.model, path: await exposeTensors(c.model.path, [layer.name]) }, { batch: 64 });
      return new ScoreCam(session, c.model.spec.input, layer.name, layer.dims, 'linear-prob');
    },
  },
  {
    name: 'cis', label: 'CIS', cam: false, extra: true,
    description: 'the image\'s own CIS reprojected onto it (the image is in its own map)',
    create: async (c) => {
      if (!c.cis) throw new CsmError('the "cis" method needs per-image CIS maps (csm eval computes them unless --cms is given)');
      return new ReprojectedCms(c.cis, 'CIS');
    },
  },
  {
    name: 'occlusion', label: 'Occlusion', cam: false, extra: true,
    description: 'the same patches slid over I on a regular grid, without alignment',
    create: async (c) => {
      const patch = c.explainer.options.patch ?? defaultPatch(c.model.spec.input.height);
      return new ImageOcclusion(c.explainer.session, c.model.spec.input, Math.max(1, Math.round(patch / 2)));
    },
  },
];

/** The methods `csm eval` runs when none are named: the paper's four (CMS and three CAMs). */
export const DEFAULT_METHODS: readonly string[] = METHODS.filter((m) => !m.extra).map((m) => m.name);

export function methodEntry(name: string): MethodEntry | undefined {
  return METHODS.find((m) => m.name === name);
}

/** `--help` lines: each method's name and description, aligned. */
export function methodsHelp(indent = '  '): string {
  const width = Math.max(...METHODS.map((m) => m.name.length));
  return METHODS.map((m) => `${indent}${m.name.padEnd(width)}  ${m.description}${m.extra ? ' (extra)' : ''}`).join('\n');
}

/**
 * The CAM layer resolved once, on first use, from one image's tensor: `name` if given, else the
 * default (findCamLayer). `current()` tells which layer was used, if any.
 */
export function camLayerResolver(model: ResolvedModel, open: ModelOpener, sample: () => Promise<Float32Array>, name?: string): { get: () => Promise<CamLayer>; current: () => CamLayer | undefined } {
  let pending: Promise<CamLayer> | undefined;
  let resolved: CamLayer | undefined;
  return {
    get: () => {
      pending ??= (async () => { resolved = await findCamLayer(model, open, await sample(), name); return resolved; })();
      return pending;
    },
    current: () => resolved,
  };
}

/**
 * The named methods, in order, built from the context. An unknown name is an error that lists
 * METHODS; if one fails to build, those already built are disposed.
 */
export async function createMethods(names: readonly string[], context: MethodContext): Promise<SaliencyMethod[]> {
  const entries = names.map((n) => {
    const e = methodEntry(n);
    if (!e) throw new CsmError(`unknown method "${n}" (methods: ${METHODS.map((m) => m.name).join(', ')})`);
    return e;
  });
  const methods: SaliencyMethod[] = [];
  try {
    for (const e of entries) methods.push(await e.create(context));
  } catch (err) {
    for (const m of methods) await m.dispose?.();
    throw err;
  }
  return methods;
}
