import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread from a module beside the caller's (`name` without its extension), or
 * returns undefined when that module is not there. Running from the TypeScript sources (the test
 * suite), the module is a .ts file, loaded through tsx's loader, which a worker must register
 * itself (a worker takes no --import).
 */
export function startWorker(callerUrl: string, name: string, workerData: unknown): Worker | undefined {
  if (callerUrl.endsWith('.ts')) {
    const url = new URL(`./${name}.ts`, callerUrl).href;
    return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); });`, { eval: true, workerData });
  }
  const url = new URL(`./${name}.js`, callerUrl);
  return existsSync(fileURLToPath(url)) ? new Worker(url, { workerData }) : undefined;
}
