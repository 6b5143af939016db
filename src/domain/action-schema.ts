/** The Action resource type, as plain data (served by discovery; validated in the action service). */
import { attrWith, resourceDefaults, type AttributeOptions, type ResourceTypeDef } from './scim-schema.js';

export const ACTION_URN = 'urn:switchboard:scim:schemas:core:2.0:Action';

const attr = attrWith(resourceDefaults('immutable'));
const ro: AttributeOptions = { mutability: 'readOnly' };

export const actionTypeValues = [
  'sendWelcomeEmail', 'resetPassword', 'sendMivbDeploymentEmails', 'assignLicense', 'unassignLicense', 'assignSmsNumbers', 'unassignSmsNumbers', 'deleteUsers',
];

export const actionResourceType: ResourceTypeDef = {
  id: 'Action',
  name: 'Action',
  endpoint: '/Actions',
  description:
    'An admin operation over a set of users of the account (the Manage panel of the Users page). POST runs it; more than 500 targeted users run in the background (status running) and GET /Actions/{id} shows the progress.',
  extensions: [],
  schema: {
    id: ACTION_URN,
    name: 'Action',
    description: 'An admin action and its per-user results.',
    attributes: [
      attr('type', 'string', 'What the action does.', { required: true, canonicalValues: actionTypeValues, caseExact: true }),
      attr('targets', 'complex', 'Which users: {"all": true}, {"ids": [...]} (selected users) or {"filter": "<SCIM filter>"}. deleteUsers takes ids only.', {
        required: true,
        subAttributes: [
          attr('all', 'boolean', 'Every user of the account (for sendMivbDeploymentEmails: every user with mivbService).'),
          attr('ids', 'string', 'Selected user ids.', { multiValued: true, caseExact: true }),
          attr('filter', 'string', 'A SCIM filter over Users.'),
        ],
      }),
      attr('params', 'complex', 'Parameters of the type: product (assignLicense, unassignLicense), userPortalUrl and miCollabServer (sendMivbDeploymentEmails).', {
        subAttributes: [
          attr('product', 'string', 'The licensed product, e.g. "MiTeam Meetings".'),
          attr('userPortalUrl', 'reference', 'MiVoice Business User Portal address put in the deployment details email.', { referenceTypes: ['uri'] }),
          attr('miCollabServer', 'string', 'MiCollab server address put in the deployment details email.'),
        ],
      }),
      attr('status', 'string', 'running, completed (per-user outcomes in results) or failed (see error).', { ...ro, canonicalValues: ['running', 'completed', 'failed'] }),
      attr('error', 'string', 'Why a failed action failed as a whole; nothing it would have changed was changed.', ro),
      attr('summary', 'complex', 'Progress and outcome counts.', {
        ...ro,
        subAttributes: [
          attr('targeted', 'integer', 'Users targeted (selected ids that are not users of the account count as failed).', ro),
          attr('processed', 'integer', 'Users processed so far.', ro),
          attr('succeeded', 'integer', 'Outcome done.', ro),
          attr('skipped', 'integer', 'Outcome skipped (nothing to do for the user, with the reason).', ro),
          attr('deferred', 'integer', 'Outcome deferred (handled elsewhere, e.g. by the identity provider).', ro),
          attr('failed', 'integer', 'Outcome failed, with the reason.', ro),
        ],
      }),
      attr('results', 'complex', 'One entry per targeted user; returned by GET /Actions/{id} and the POST answer, not in lists.', {
        ...ro,
        multiValued: true,
        returned: 'request',
        subAttributes: [
          attr('userId', 'string', 'The user.', { ...ro, caseExact: true }),
          attr('outcome', 'string', 'done, skipped, deferred or failed.', { ...ro, canonicalValues: ['done', 'skipped', 'deferred', 'failed'] }),
          attr('reason', 'string', 'Why, when not simply done.', ro),
          attr('value', 'string', 'What was given to the user, e.g. the SMS number assigned.', ro),
        ],
      }),
      attr('createdBy', 'string', 'Who ran the action (role and token id).', ro),
      attr('created', 'dateTime', 'When the action was run (also meta.created).', ro),
      attr('completed', 'dateTime', 'When the action finished.', ro),
    ],
  },
};
