import type { Knex } from 'knex';

// A statement that writes several tables at once (usersRepo.writePlanned: users row, value rows, source link and
// audit entry as data-modifying CTEs of one statement) runs alone, without BEGIN and COMMIT, when it is the whole
// write: it is atomic by itself. Its assumptions (the row is still at the version the write was planned on; no
// other user's link holds the anchor it takes) are checked in the statement, and a failed check must undo every
// CTE: SQL has no `raise`, so this function raises with the SQLSTATE it is given. Volatile, so the planner never
// evaluates it ahead of the CTEs it reads.

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function switchboard_require(ok boolean, sql_state text, message text) returns boolean
      language plpgsql volatile as $$
    begin
      if ok is not true then
        raise exception using errcode = sql_state, message = message;
      end if;
      return true;
    end
    $$;
    comment on function switchboard_require(boolean, text, text) is 'Raises (SQLSTATE sql_state) unless ok: a check inside one statement that aborts all of it (usersRepo.writePlanned).';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists switchboard_require(boolean, text, text)');
}
