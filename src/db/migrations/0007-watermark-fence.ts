// Migration 0007: the watermark remembers the fencing token of the lease its last writer held (src/ownership/
// leases.ts), and refuses a write with an older one: an owner that froze past its lease and woke up after another
// host took the enterprise over cannot move the watermark (0 = written without a lease, before leases existed).
export const id = '0007-watermark-fence';

export const sql = /* sql */ `
alter table notify.subscription_watermark add column fence bigint not null default 0;
`;
