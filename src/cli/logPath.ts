import { statSync } from 'node:fs';
import { FraudwatchError } from '../errors.js';

/**
 * Rejects a directory given as the event log, naming it. Reading a directory fails only at the
 * first read, with a bare "EISDIR: illegal operation on a directory" that says neither which
 * path nor what was expected. A missing or unreadable path is left to openLog, whose message
 * already names it.
 */
export function checkLogPath(path: string): void {
  if (path === '-') return;
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    return;
  }
  if (isDirectory) {
    throw new FraudwatchError('FW_INPUT_READ', `${path} is a directory: give an event log file (JSON lines), or - for standard input`, { path });
  }
}
