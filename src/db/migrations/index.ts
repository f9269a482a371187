// The ordered list of migrations. Append only: an applied migration is never edited (its checksum is checked).
import * as m0001 from './0001-notify-schema.js';
import * as m0002 from './0002-rule-fires.js';
import * as m0003 from './0003-delivery-deadline.js';
import * as m0004 from './0004-delivery-table.js';
import * as m0005 from './0005-enterprise-pause.js';
import * as m0006 from './0006-failed-index.js';
import * as m0007 from './0007-watermark-fence.js';
import * as m0008 from './0008-redis-epoch.js';

export interface Migration {
  readonly id: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = Object.freeze([m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0008]);
