// Output of the notifyd CLI: each command produces one result, printed as readable tables (default) or as one
// JSON document on stdout (--json); notes and errors go to stderr. The exit codes are defined here.
import Table from 'cli-table3';
import { EX_CONFIG } from '../config/schema.js';

/** The documented exit codes (README "The notifyd CLI"). */
export const EXIT = {
  ok: 0,
  /** a check or the command failed: doctor found a problem, retry ids that were not failed rows, … */
  failed: 1,
  /** usage error: unknown command or option, a bad argument */
  usage: 2,
  /** invalid configuration: the message names the variable */
  config: EX_CONFIG,
} as const;

/** An error the CLI reports as one message on stderr, with its exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export interface Output {
  readonly json: boolean;
  /** The command's one result: `doc` as JSON with --json, else the text `render` returns. */
  result(doc: unknown, render: () => string): void;
  /** A line for people on stderr (never with a payload, recipients, a key or a password). */
  note(line: string): void;
  /** The exit code the command asks for (1 when a check failed); the highest asked wins. */
  fail(code?: number): void;
  readonly exitCode: number;
}

export function createOutput(json: boolean, write: (s: string) => void, writeErr: (s: string) => void): Output {
  let code: number = EXIT.ok;
  return {
    json,
    result(doc, render) {
      write(json ? `${JSON.stringify(doc, null, 2)}\n` : ensureNewline(render()));
    },
    note(line) {
      writeErr(ensureNewline(line));
    },
    fail(c = EXIT.failed) {
      code = Math.max(code, c);
    },
    get exitCode() {
      return code;
    },
  };
}

function ensureNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}

export type Cell = string | number | boolean | Date | null | undefined;

/** A cell as text: '-' for nothing, instants as `YYYY-MM-DD HH:MM:SSZ`. */
export function cellText(v: Cell): string {
  if (v === null || v === undefined || v === '') return '-';
  if (v instanceof Date) return shortInstant(v);
  return String(v);
}

export function shortInstant(d: Date): string {
  return Number.isFinite(d.getTime()) ? `${d.toISOString().slice(0, 19).replace('T', ' ')}Z` : '-';
}

const PLAIN = { head: [] as string[], border: [] as string[] };

/** A table with a header row; never coloured (output is often piped). */
export function table(head: readonly string[], rows: readonly Cell[][], options: { wrapAt?: number } = {}): string {
  // rows of wrapped cells need their separators; one-line rows read better without
  const t = new Table({ head: [...head], style: { ...PLAIN, compact: options.wrapAt === undefined } });
  for (const r of rows) t.push(r.map((c) => wrap(cellText(c), options.wrapAt)));
  return t.toString();
}

/** Label/value pairs, one per line. */
export function pairs(rows: readonly [string, Cell][]): string {
  const t = new Table({ style: { ...PLAIN, compact: true } });
  for (const [k, v] of rows) t.push({ [k]: cellText(v) });
  return t.toString();
}

/** A titled block of a multi-part report. */
export function section(title: string, body: string): string {
  return `${title}\n${body}\n`;
}

function wrap(text: string, at: number | undefined): string {
  if (at === undefined || text.length <= at) return text;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > at) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.flatMap((l) => (l.length <= at ? [l] : (l.match(new RegExp(`.{1,${at}}`, 'g')) ?? [l]))).join('\n');
}
