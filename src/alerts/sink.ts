import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { Alert } from './alert.js';

/**
 * Writes alerts as JSON lines, buffered: one write per ~64 KB instead of one per alert, and
 * waits for the stream to drain so a slow consumer (a pipe) never makes memory grow unbounded.
 */
export class JsonlSink {
  private buffer: string[] = [];
  private bytes = 0;
  private pendingDrain: Promise<unknown> | undefined;
  count = 0;

  constructor(private readonly out: Writable, private readonly ownsStream: boolean) {}

  static toFile(path: string): JsonlSink {
    return new JsonlSink(createWriteStream(path), true);
  }

  static toStdout(): JsonlSink {
    return new JsonlSink(process.stdout, false);
  }

  write(alert: Alert): void {
    const line = JSON.stringify(alert) + '\n';
    this.buffer.push(line);
    this.bytes += line.length;
    this.count++;
    if (this.bytes >= 65_536) this.flushBuffer();
  }

  /** Resolves once buffered output has been handed to the stream and it is not over its high-water mark. */
  async drain(): Promise<void> {
    this.flushBuffer();
    if (this.pendingDrain) await this.pendingDrain;
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.ownsStream) {
      this.out.end();
      await once(this.out, 'finish');
    }
  }

  private flushBuffer(): void {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join('');
    this.buffer = [];
    this.bytes = 0;
    if (!this.out.write(chunk) && !this.pendingDrain) {
      this.pendingDrain = once(this.out, 'drain').finally(() => (this.pendingDrain = undefined));
    }
  }
}
