// Migration 0002: what cron rules need to be exact — where each rule's schedule starts counting (schedule_from,
// moved by the trigger when a rule is enabled or its cron/timezone changes) and one row per fire time with its
// outcome (fired / caught_up / missed), unique per (rule, fire time).
export const id = '0002-rule-fires';

// Checksummed once applied: long lines are split by concatenation (the text stays byte for byte), never rewrapped.
export const sql =
  /* sql */ `
alter table notify.notification_rule add column schedule_from timestamptz not null default now();

create or replace function notify.stamp_rule() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' then
    new.version := old.version + 1;
    if (new.enabled and not old.enabled) or new.cron is distinct from old.cron ` +
  /* sql */ `or new.timezone is distinct from old.timezone then
      new.schedule_from := clock_timestamp();
    end if;
  else
    new.schedule_from := clock_timestamp();
  end if;
  new.updated_at := clock_timestamp();
  return new;
end;
$$;

create table notify.rule_fire (
  rule_id          bigint not null references notify.notification_rule (id) on delete cascade,
  fire_at          timestamptz not null,
  outcome          text not null check (outcome in ('fired', 'caught_up', 'missed')),
  notification_id  bigint,
  recorded_at      timestamptz not null default now(),
  primary key (rule_id, fire_at)
);
`;
