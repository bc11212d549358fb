/**
 * Resolves a `TaskRef` to its function, importing each module once per thread.
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import { TaskFailedError } from '../../errors.js';
import type { TaskRef } from './executor.js';

/** A task function. */
export type TaskFunction = (input: unknown) => unknown;

const modules = new Map<string, Promise<Record<string, unknown>>>();

/** Normalises a module reference to a `file:` URL string. */
export function moduleUrl(module: string): string {
  return isAbsolute(module) ? pathToFileURL(module).href : module;
}

/** Imports `task.module` (cached) and returns its `task.name` export. */
export async function loadTask(task: TaskRef): Promise<TaskFunction> {
  const url = moduleUrl(task.module);
  let loading = modules.get(url);
  if (!loading) {
    loading = import(url) as Promise<Record<string, unknown>>;
    modules.set(url, loading);
    loading.catch(() => modules.delete(url));
  }
  const mod = await loading;
  const fn = mod[task.name];
  if (typeof fn !== 'function') {
    throw new TaskFailedError(`task module ${url} has no exported function "${task.name}"`, -1);
  }
  return fn as TaskFunction;
}
