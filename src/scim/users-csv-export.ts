/**
 * GET /Users with Accept: text/csv: the whole filtered, sorted list (every page), streamed in the import's columns
 * plus the read-only Registered, Source, Modified On and Modified By, so an export imports back as it is. Cells
 * are escaped against spreadsheet formula injection (userToRow).
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { exportHeader, userToRow } from '../domain/user-csv.js';
import type { ListedExport } from '../db/users-repo.js';
import { formatCsvRow } from '../lib/csv.js';
import type { UserService } from '../services/user-service.js';
import type { ListParams } from './list-params.js';

/** Users read per query: keyset pages, so memory stays flat whatever the account's size. */
const PAGE = 1000;

/** Whether a GET asks for CSV: its Accept names text/csv. */
export function acceptsCsv(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*(text|application)\/csv\s*(;|,|$)/i.test(accept);
}

export async function exportUsersCsv(users: UserService, accountId: string, params: ListParams, res: ServerResponse): Promise<void> {
  const descending = params.sortOrder === 'descending';
  let text = formatCsvRow(exportHeader);
  let after: { value: string | null; id: string } | undefined;
  for (;;) {
    let page: ListedExport[];
    try {
      page = await users.listExport(accountId, { filter: params.filter, sortBy: params.sortBy, descending, limit: PAGE, ...(after ? { after } : {}) });
    } catch (error) {
      // Once the status is sent, a failure can only cut the response short: the client sees an incomplete body.
      if (res.headersSent) res.destroy(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    // The headers go with the first page, not before it: a bad filter or sortBy is still a SCIM error with its status.
    if (!res.headersSent) {
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', 'attachment; filename="users.csv"');
    }
    for (const user of page) text += formatCsvRow(userToRow(user));
    if (!res.write(text)) await once(res, 'drain');
    text = '';
    if (page.length < PAGE) break;
    const last = page[page.length - 1]!;
    after = { value: last.sortValue, id: last.id };
  }
  res.end();
}
