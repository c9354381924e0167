/**
 * A one-line progress display on stderr when it is a terminal; nothing otherwise
 * (logs and CI output stay clean).
 */
export interface Progress {
  update(text: string, fraction?: number): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || process.env.CI) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let shown = false;
  const width = 24;
  return {
    update(text, fraction) {
      const now = Date.now();
      if (now - last < 80) return;
      last = now;
      const bar =
        fraction === undefined
          ? ''
          : '[' + '#'.repeat(Math.round(fraction * width)).padEnd(width, '-') + '] ' + `${Math.round(fraction * 100)}%`.padStart(4) + ' ';
      const line = (bar + text).slice(0, (stream.columns ?? 100) - 1);
      stream.write('\r\x1b[2K' + line);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
