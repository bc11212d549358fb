/**
 * A model's own `config.json` (Triton-style, beside the model): its batching, instance and thread
 * settings. Flags override it; it overrides the defaults.
 *
 * ```json
 * { "maxBatchSize": 64, "maxQueueDelayMs": "auto", "maxQueue": 1024, "instances": 2,
 *   "intraOpThreads": 1, "allowSpinning": false, "requestTimeoutMs": 30000, "loadTimeoutMs": 300000 }
 * ```
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ModelLoadError } from '../errors.js';
import { showValue } from '../util/options.js';
import { kModelSettingKeys, validateModelSettings, type ModelSettings } from './options.js';

/** Its name beside a repository model's versions, or in an artifact folder. */
export const kModelConfigFile = 'config.json';

const keys = kModelSettingKeys;

/** Reads and checks a config.json; a missing file is an empty config. */
export async function readModelConfig(path: string): Promise<Partial<ModelSettings>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ModelLoadError(`${path}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${path}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ModelLoadError(
      `${path}: expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`,
    );
  }
  const config: Record<string, unknown> = {};
  for (const key of Object.keys(parsed)) {
    if (!(keys as readonly string[]).includes(key)) {
      throw new ModelLoadError(`${path}: unknown key "${key}"; known keys: ${keys.join(', ')}`);
    }
    config[key] = (parsed as Record<string, unknown>)[key];
  }
  validateModelSettings(config as Partial<ModelSettings>, (key, expected, given) => {
    throw new ModelLoadError(`${path}: "${key}" must be ${expected}, got ${showValue(given)}`);
  });
  return config as Partial<ModelSettings>;
}
