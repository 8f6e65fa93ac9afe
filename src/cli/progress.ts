import cliProgress from 'cli-progress';

/**
 * A progress bar on a terminal that warnings can be printed above.
 *
 * cli-progress's SingleBar owns its line: anything else written to the stream while it is drawn
 * lands on the bar's line, and its stop() restores the cursor to where the bar started, so the
 * next lines overwrite whatever was printed meanwhile. A MultiBar holding one bar has a log()
 * that prints above the bar on its next redraw, and moves the cursor relatively, so it is used
 * here for one bar.
 */
export class ProgressBar {
  private readonly multi: cliProgress.MultiBar;
  private readonly bar: cliProgress.SingleBar;
  private stopped = false;

  constructor(stream: NodeJS.WriteStream, format: string, total: number) {
    this.multi = new cliProgress.MultiBar(
      {
        stream,
        format,
        // The bar redraws only when its text changes; after a warning has been printed over it,
        // it must be drawn again even when the text is the same.
        forceRedraw: true,
        // Keep the terminal's line wrapping: a long warning wraps instead of being cut at the
        // edge. The bar itself is cut to the terminal's width either way.
        linewrap: true,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar = this.multi.create(total, 0);
  }

  update(value: number): void {
    this.bar.update(value);
  }

  /** Prints one line above the bar (a newline is added when missing). */
  log(line: string): void {
    this.multi.log(line.endsWith('\n') ? line : `${line}\n`);
  }

  /** Draws the last state and any lines still waiting, and leaves the cursor below the bar. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // MultiBar prints logged lines only on a redraw, and stop() does not redraw them.
    this.multi.update();
    this.multi.stop();
  }
}
