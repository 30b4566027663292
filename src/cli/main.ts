/** `csm`: dispatches to one file per sub-command. Keep this thin: parse, call the library, print. */
import { createRequire } from 'node:module';
import { alignCommand } from './align.js';
import { cisCommand } from './cis.js';
import { cmsCommand } from './cms.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { sanityCommand } from './sanity.js';
import { ablateCommand } from './ablate.js';
import { mergeCommand } from './merge.js';
import { reprojectCommand } from './reproject.js';
import { modelsCommand } from './models.js';
import { compareCommand } from './compare.js';
import { paperCommand } from './paper.js';
import { EXIT, print, report, warn } from './output.js';

type Command = { run: (args: string[]) => Promise<number>; summary: string };

const COMMANDS: Record<string, Command> = {
  demo: { run: demoCommand, summary: 'the whole method on npm sample photos with the default models, as an HTML page' },
  cis: { run: cisCommand, summary: 'Canonical Image Saliency of photos (Algorithm 1)' },
  cms: { run: cmsCommand, summary: 'Canonical Model Saliency of a model over a data set (mean of CIS maps)' },
  eval: { run: evalCommand, summary: 'CMS against Score-CAM and plain occlusion with the paper\'s faithfulness metrics' },
  sanity: { run: sanityCommand, summary: 'model-randomisation sanity check: the CMS must degrade as layers are randomised' },
  ablate: { run: ablateCommand, summary: 'ablations: alignment (none / keypoints / canonical), patch size, number of images' },
  reproject: { run: reprojectCommand, summary: 'draw a canonical map onto photos through their face meshes' },
  compare: { run: compareCommand, summary: 'two CMS side by side (two models, or two groups of images) with intervals and a significance mask' },
  paper: { run: paperCommand, summary: 'the paper\'s analyses in one run: five tasks (Fig. 1), gender models compared, head-pose bins, the eye-region question' },
  merge: { run: mergeCommand, summary: 'merge CMS runs over disjoint image sets, exactly' },
  // BullMQ and ioredis load only for these two.
  queue: { run: async (args) => (await import('./queue.js')).queueCommand(args), summary: 'a CMS run spread over workers by a job queue on Redis: submit, status, collect' },
  worker: { run: async (args) => (await import('./worker.js')).workerCommand(args), summary: 'explain queued chunks (csm queue submit), on any number of machines' },
  align: { run: alignCommand, summary: 'find faces, fit the 468-point mesh, warp each face to the canonical face' },
  models: { run: modelsCommand, summary: 'list, inspect and convert face models (the zoo, or any TF.js graph model)' },
  doctor: { run: async (args) => (await import('./doctor.js')).doctorCommand(args), summary: 'which GPU csm can use; if none, why not and the fix (Vulkan driver, NVIDIA containers)' },
};

function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../../package.json') as { version: string }).version;
}

export const HELP = `csm ${version()}: Canonical Saliency Maps for deep face models.

Occludes small patches centred on densely aligned face points, measures the drop in the
model's confidence, and paints each drop onto the same place of a canonical frontal face.

Usage: csm <command> [options]     (csm <command> --help for details)

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

Exit codes: 0 success, 1 failure (the message names the file and cause), 2 bad command line.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(HELP);
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version' || name === '-v') {
    print(version());
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    warn(`csm: unknown command "${name}". Commands: ${Object.keys(COMMANDS).join(', ')}. Run "csm --help".`);
    return EXIT.usage;
  }
  try {
    return await command.run(args);
  } catch (e) {
    return report(e, name);
  }
}
