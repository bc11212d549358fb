/**
 * Offline graph optimisation: onnxruntime optimises the graph once (constant folding, fusions
 * such as Gemm + Relu → FusedGemm) and writes the result, so a server loads the optimised graph
 * instead of redoing the work at every start.
 *
 * Level 'extended', not 'all': 'all' adds layout transformations (NCHWc) chosen for this CPU's
 * vector width, and onnxruntime itself warns that a model saved after them "should only be used
 * in the same environment the model was optimized in". 'extended' holds the fusions that matter
 * for MLPs and transformers and stays valid on any CPU. The result uses onnxruntime's contrib
 * operators (com.microsoft), so it runs on onnxruntime only.
 *
 * @module
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { OnnxCorruptError } from '../../errors.js';
import { decodeModel } from './onnx-model.js';

/** The graph optimisation level written. */
export const kGraphLevel = 'extended';

/** The optimised model and the op types before and after. */
export interface GraphResult {
  readonly model: Uint8Array;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
  /** Op types of the optimised graph, with counts, e.g. `{ 'com.microsoft.FusedGemm': 3 }`. */
  readonly ops: Readonly<Record<string, number>>;
}

/**
 * Runs onnxruntime's graph optimiser on the model and returns the optimised model.
 * @throws OnnxCorruptError when onnxruntime refuses the model.
 */
export async function optimizeGraph(bytes: Uint8Array, file: string): Promise<GraphResult> {
  const dir = await mkdtemp(join(tmpdir(), 'mlscale-graph-'));
  const out = join(dir, 'optimized.onnx');
  try {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: kGraphLevel,
        optimizedModelFilePath: out,
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        logSeverityLevel: 3,
      });
    } catch (err) {
      throw new OnnxCorruptError(`onnxruntime cannot load ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await session.release();
    const optimized = await readFile(out);
    const before = decodeModel(bytes, file).graph!.node?.length ?? 0;
    const nodes = decodeModel(optimized, `${file} (optimised)`).graph!.node ?? [];
    const ops: Record<string, number> = {};
    for (const n of nodes) {
      const key = (n.domain ? `${n.domain}.` : '') + (n.opType ?? '?');
      ops[key] = (ops[key] ?? 0) + 1;
    }
    return { model: optimized, nodesBefore: before, nodesAfter: nodes.length, ops };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
