import type { Knex } from 'knex';

// The mail outbox (README, design decisions): an email is a row written in the transaction of the action that causes it,
// then delivered by a worker over SMTP. A row is claimed (status sending, lease_until set) before it is sent and
// marked sent as soon as the server accepts it, so a restart neither loses nor repeats a message.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table outbox (
      account_id uuid not null references accounts(id) on delete cascade,
      id uuid not null default gen_random_uuid(),
      kind text not null check (kind in ('welcome', 'password_reset', 'mivb_deployment_details', 'mivb_deployment_credentials')),
      user_id uuid,
      action_id uuid,
      to_address text not null,
      subject text not null,
      text_body text not null,
      html_body text not null,
      message_id text not null,
      status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'failed')),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      lease_until timestamptz,
      last_error text,
      created_at timestamptz not null default now(),
      sent_at timestamptz,
      primary key (account_id, id)
    );
    comment on table outbox is 'Emails to deliver, written in the transaction of the action that causes them and sent by the mail worker.';
    comment on column outbox.kind is 'Template: welcome, password_reset, mivb_deployment_details, mivb_deployment_credentials.';
    comment on column outbox.user_id is 'The user the email is about, if any.';
    comment on column outbox.action_id is 'The action (e.g. a MiVB deployment) that caused the email, if any.';
    comment on column outbox.message_id is 'RFC 5322 Message-ID with its angle brackets, generated at enqueue so that every attempt carries the same one.';
    comment on column outbox.status is 'pending (due at next_attempt_at), sending (claimed by a worker until lease_until), sent, failed (permanently or out of attempts).';
    comment on column outbox.attempts is 'Delivery attempts so far, counted when a worker claims the row; also the claim''s fencing token.';
    comment on column outbox.next_attempt_at is 'When the row is next due: the retry time of a pending row, the lease expiry of a sending row.';
    comment on column outbox.lease_until is 'A sending row whose lease has expired (its worker died) may be claimed again.';
    comment on column outbox.last_error is 'The error of the last failed attempt (SMTP reply or connection error).';
    create unique index outbox_message_id_idx on outbox (message_id);
    create index outbox_status_next_attempt_at_idx on outbox (status, next_attempt_at) where status in ('pending', 'sending');
    create index outbox_account_id_action_id_idx on outbox (account_id, action_id) where action_id is not null;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table if exists outbox');
}
