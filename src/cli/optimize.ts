/**
 * `mlscale optimize`: parse and validate flags, run `optimizeModel`, print the measured table.
 *
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import {
  kDefaultOptimizeOptions,
  type OptimizeOptions,
  type VariantKind,
} from '../model/optimize/options.js';
import { optimizeModel, type OptimizeReport } from '../model/optimize/optimize.js';
import { numberFlag, parseFlagsAndArguments, textFlag, type FlagSpec } from './args.js';
import { optimizeJson, optimizeText } from './optimize-table.js';

const d = kDefaultOptimizeOptions;

/** `mlscale optimize --help`. */
export const optimizeHelp = `Usage: mlscale optimize MODEL [--int8] [--fp16] [--graph] [options]
       mlscale optimize --model-repository DIR --model NAME [options]

Makes cheaper variants of an ONNX model (any ONNX model, not only mlscale's), measures each
against the original on this machine in the same run, and writes the ones that pay:

  --int8    dynamic INT8: MatMul/Gemm weights in INT8 per output channel, activations quantised
            at run time (DynamicQuantizeLinear -> MatMulInteger); layers too small to pay and the
            preprocessing of mlscale's models stay FP32
  --fp16    FP16 weights, cast to FP32 at load: half the file, FP32's speed on a CPU
  --graph   onnxruntime's graph optimisation (level 'extended') done once and saved, so a server
            does not redo it at every start
With none of the three: every variant that applies to the model.

MODEL is a .onnx file, or a model folder (model.onnx + metadata.json, as 'mlscale train'
writes). Variants go beside it: m.onnx -> m.int8.onnx + m.int8.metadata.json; a folder gets
model.int8.onnx + model.int8.metadata.json ('mlscale serve --model DIR --variant int8'); a
repository model NAME gets a sibling model NAME-int8 with the same version number.

Measured for each variant against the original: rows/s at batch 1 and at --batch-size
(interleaved repeats, median), load time, file size, and accuracy (or R²) with --data, else the
agreement of outputs (top-1 match, largest difference) on made-up inputs (from an mlscale model's
preprocessing statistics, or standard normal values shaped by the inputs). A variant that is
slower at the serving batch (median below 0.95x and slower in every repeat: anything closer is
noise on a shared machine) or loses more accuracy than --max-accuracy-drop is reported and not
written, unless --force. Without data, the share of rows whose top-1 class
changes counts as the accuracy it could cost.

Variants
  --int8 --fp16 --graph      the variants to make  [all that apply]
  --int8-ops KIND            standard (ONNX ops: any runtime; onnxruntime fuses them into its
                             DynamicQuantizeMatMul at load) | ort (that contrib op directly)  [${d.int8Ops}]
  --reduce-range MODE        7-bit INT8 weights: auto (when this machine's onnxruntime saturates
                             u8 x s8 products, which the command measures: CPUs without VNNI)
                             | on | off  [${d.reduceRange}]
  --int8-min-weights N       layers with fewer weights (K x N) stay FP32  [${d.int8MinWeights}]
Measurement
  --data SOURCE              labelled rows, as 'mlscale train --data' takes them; an mlscale
                             model is scored on its training run's held-out rows
  --label COLUMN             the label column (mlscale models know theirs)
  --max-accuracy-drop PTS    most accuracy (or R²) a written variant may lose, in percentage
                             points  [${d.maxAccuracyDrop}]
  --batch-size ROWS          the serving batch of the second speed measurement  [${d.batchSize}]
  --repeats N                interleaved repeats per batch size  [${d.repeats}]
  --measure-ms MS            run time per model, repeat and batch size  [${d.measureMs}]
  --threads N                onnxruntime intra-op threads while measuring  [${d.threads}]
Output
  --model-repository DIR     with --model NAME: a model in a repository (DIR/NAME/<version>/)
  --model NAME               the repository model (instead of MODEL)
  --out DIR                  for a .onnx file: write the variants there instead of beside it
  --force                    write variants that are slower or lose more accuracy than allowed
  --json                     print the full report as JSON
  -h, --help                 this help

See docs/optimize.md for what each variant does, how it was measured, and when to use it.`;

const flags: FlagSpec = {
  int8: { type: 'boolean' },
  fp16: { type: 'boolean' },
  graph: { type: 'boolean' },
  'int8-ops': { type: 'string' },
  'reduce-range': { type: 'string' },
  'int8-min-weights': { type: 'string' },
  data: { type: 'string' },
  label: { type: 'string' },
  'max-accuracy-drop': { type: 'string' },
  'batch-size': { type: 'string' },
  repeats: { type: 'string' },
  'measure-ms': { type: 'string' },
  threads: { type: 'string' },
  'model-repository': { type: 'string' },
  model: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Turns optimize flags into options (validated later, in one place). */
export function optimizeOptionsFromArgv(argv: string[]): {
  options: Partial<OptimizeOptions> & { model: string };
  json: boolean;
  help: boolean;
} {
  const { values: v, positionals } = parseFlagsAndArguments('optimize', argv, flags, 1);
  const help = v.help === true;
  const named = textFlag(v.model);
  const repository = textFlag(v['model-repository']);
  if (!help) {
    if (positionals.length > 0 && named !== undefined)
      throw new InvalidOptionError(
        'mlscale optimize: give the model once: MODEL, or --model-repository DIR --model NAME',
      );
    if (repository !== undefined && named === undefined)
      throw new InvalidOptionError(
        'mlscale optimize: --model-repository needs --model NAME, the model in the repository',
      );
    if (repository === undefined && named !== undefined)
      throw new InvalidOptionError(
        'mlscale optimize: --model NAME goes with --model-repository DIR; for a file or folder, give it as MODEL',
      );
    if (positionals.length === 0 && named === undefined)
      throw new InvalidOptionError(
        'mlscale optimize: which model? give a .onnx file or a model folder (or --model-repository DIR --model NAME); see --help',
      );
  }
  const variants = (['int8', 'fp16', 'graph'] as const).filter(
    (k) => v[k] === true,
  ) as VariantKind[];
  const options = {
    model: positionals[0] ?? named ?? '',
    modelRepository: repository,
    variants,
    int8Ops: textFlag(v['int8-ops']) as OptimizeOptions['int8Ops'] | undefined,
    reduceRange: textFlag(v['reduce-range']) as OptimizeOptions['reduceRange'] | undefined,
    int8MinWeights: numberFlag(v['int8-min-weights']),
    data: textFlag(v.data),
    label: textFlag(v.label),
    maxAccuracyDrop: numberFlag(v['max-accuracy-drop']),
    batchSize: numberFlag(v['batch-size']),
    repeats: numberFlag(v.repeats),
    measureMs: numberFlag(v['measure-ms']),
    threads: numberFlag(v.threads),
    out: textFlag(v.out),
    force: v.force === true ? true : undefined,
  };
  return { options, json: v.json === true, help };
}

/** Runs `mlscale optimize`; resolves with the exit code. */
export async function optimizeCommand(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { options, json, help } = optimizeOptionsFromArgv(argv);
  if (help) {
    out.write(optimizeHelp + '\n');
    return 0;
  }
  const report: OptimizeReport = await optimizeModel(options, {
    onProgress: json ? undefined : (line) => process.stderr.write(`mlscale optimize: ${line}\n`),
  });
  out.write((json ? JSON.stringify(optimizeJson(report), null, 2) : optimizeText(report)) + '\n');
  return 0;
}
