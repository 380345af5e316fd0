import { styleText } from 'node:util';

/** A stream the CLI writes to: stdout or stderr, or a test's stand-in. */
export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export type OutputFormat = 'table' | 'json';
type Style = 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold';

/** How the CLI prints: tables or JSON on stdout, messages and progress on stderr. */
export interface Output {
  format: OutputFormat;
  /** Writes `text` and a newline to stdout. */
  line(text?: string): void;
  /** Writes a message and a newline to stderr. */
  note(text: string): void;
  json(value: unknown): void;
  /** Columns padded to their widest cell; a header row in bold. */
  table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void;
  /** `text` in `style` when colours are on (a TTY, no NO_COLOR), else as is. */
  paint(style: Style, text: string): string;
  /** A progress bar on stderr for `total` steps, drawn only on a terminal and for table output. */
  progress(label: string, total: number): Progress;
}

export interface Progress {
  tick(): void;
  done(): void;
}

const NO_PROGRESS: Progress = { tick() {}, done() {} };
// Below this many steps the work is over before a bar could tell anyone anything.
const PROGRESS_MIN_STEPS = 20;

/**
 * The output of one run. Colours follow https://no-color.org: off when NO_COLOR is set (to
 * anything but the empty string) or stdout is not a terminal.
 */
export function createOutput(options: { format: OutputFormat; stdout: OutStream; stderr: OutStream; noColor: boolean }): Output {
  const { stdout, stderr, format } = options;
  const color = stdout.isTTY === true && !options.noColor;
  const errColor = stderr.isTTY === true && !options.noColor;
  const paint = (style: Style, text: string) => (color ? styleText(style, text) : text);
  return {
    format,
    line: (text = '') => stdout.write(`${text}\n`),
    note: (text) => stderr.write(`${text}\n`),
    json: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    paint,
    table(header, rows) {
      const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
      const format = (cells: readonly string[]) =>
        cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd();
      stdout.write(`${paint('bold', format(header))}\n`);
      for (const row of rows) stdout.write(`${format(row)}\n`);
    },
    progress(label, total) {
      if (stderr.isTTY !== true || format === 'json' || total < PROGRESS_MIN_STEPS) return NO_PROGRESS;
      let done = 0;
      const draw = () => {
        const width = 30;
        const filled = Math.round((done / total) * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        stderr.write(`\r${label} ${errColor ? styleText('cyan', bar) : bar} ${done}/${total}`);
      };
      draw();
      return {
        tick() {
          done += 1;
          draw();
        },
        done() {
          stderr.write('\r\x1b[2K');
        },
      };
    },
  };
}
