// The ordered list of migrations. Append only: an applied migration is never edited (its checksum is checked).
import * as m0001 from './0001-notify-schema.js';

export interface Migration {
  readonly id: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = Object.freeze([m0001]);
