/** The Import resource type, as plain data (served by discovery; what the console and scripts read). */
import { attrWith, resourceDefaults, type ResourceTypeDef } from './scim-schema.js';

export const IMPORT_URN = 'urn:switchboard:scim:schemas:core:2.0:Import';

const attr = attrWith(resourceDefaults('readOnly'));

export const importStatusValues = ['running', 'succeeded', 'completed_with_errors', 'failed'];
export const rowOutcomeValues = ['created', 'updated', 'unchanged', 'failed'];

export const importResourceType: ResourceTypeDef = {
  id: 'Import',
  name: 'Import',
  endpoint: '/Imports',
  description:
    'A CSV import of users (the Users page\'s Import Users). POST /Imports with Content-Type: text/csv (query dryRun, sendWelcomeEmail, mode=upsert|create, ignoreUnknownColumns) answers 201 when done, or 202 with status running beyond 1,000 rows (poll GET /Imports/{id}). GET /Imports/template gives the header row; GET /Imports/{id}/report gives the input with Line, Outcome and Reason (text/csv). Kept 30 days.',
  extensions: [],
  schema: {
    id: IMPORT_URN,
    name: 'Import',
    description: 'A CSV import of users, its counts and per-row results.',
    attributes: [
      attr('status', 'string', 'running; succeeded (no row failed); completed_with_errors (the failed rows are in results, the others were written); failed (error says why).', { canonicalValues: importStatusValues, caseExact: true }),
      attr('dryRun', 'boolean', 'Nothing was written: counts and results say what the import would do.'),
      attr('mode', 'string', 'upsert (rows are matched to users by email: existing users are updated, others created) or create (a row whose email belongs to a user fails).', { canonicalValues: ['upsert', 'create'], caseExact: true }),
      attr('sendWelcomeEmail', 'boolean', 'Users created are sent the welcome email, as by the Add User form.'),
      attr('error', 'string', 'Why a failed import stopped; rows before are in results.'),
      attr('counts', 'complex', 'Rows read from the file, and the outcomes of those processed so far (a dry run counts what it would do).', {
        subAttributes: [
          attr('rows', 'integer', 'Records in the file, header not counted.'),
          attr('created', 'integer', 'Users created.'),
          attr('updated', 'integer', 'Users changed.'),
          attr('unchanged', 'integer', 'Users the row matched and left as they were.'),
          attr('failed', 'integer', 'Rows refused, each with its reason; nothing of them was written.'),
        ],
      }),
      attr('results', 'complex', 'One entry per record, in file order. Returned by POST and GET /Imports/{id}, not in lists; leave out with excludedAttributes=results.', {
        multiValued: true,
        returned: 'request',
        subAttributes: [
          attr('line', 'integer', 'The physical line the record starts on; the header is line 1.'),
          attr('email', 'string', 'The Email cell.'),
          attr('outcome', 'string', 'created, updated, unchanged or failed.', { canonicalValues: rowOutcomeValues, caseExact: true }),
          attr('reason', 'string', 'Why the row failed (what to fix), or a note on a row that did not (the welcome email not sent).'),
          attr('userId', 'string', 'The user created, updated or unchanged (none in a dry run that would create it).', { caseExact: true }),
        ],
      }),
      attr('report', 'reference', 'GET it for the input records with Line, Outcome and Reason (text/csv), to fix the failed rows and import the file back.', { referenceTypes: ['uri'] }),
      attr('createdBy', 'string', 'Who imported (role and token id).'),
      attr('created', 'dateTime', 'When the import started (also meta.created).'),
      attr('completed', 'dateTime', 'When the import finished.'),
    ],
  },
};
