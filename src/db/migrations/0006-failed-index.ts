// Migration 0006: triage reads failed rows by time (`notifyd failed list/summary`, `retry --enterprise --reason`,
// the failures of the last hour in `notifyd status`): a partial index keeps those reads off the whole table.
export const id = '0006-failed-index';

export const sql = /* sql */ `
create index ent_notification_failed_idx on notify.ent_notification (updated_at, enterprise_id) where status = 'failed';
`;
