/**
 * The seed's MiVB username rule (Edit User): when an admin adds the MiVoice Business service to a user and sets
 * `username` in that same initial configuration, the username is synced to MiCollab and MiVB; a later username
 * edit is not, and a Login ID changed later in the PBX does not overwrite `username` (the MiVB mapper never
 * states it). Pure: the write it returns is enqueued by the write path.
 */
import type { UsernameWriteBack } from '../../connectors/sdk/index.js';
import type { Writer } from './ownership.js';

type JsonObject = Record<string, unknown>;
const CORE_NAME = 'name';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';

/** The write-back message the MiVB connector delivers (connectors/sdk's contract). */
export type UsernameToApply = UsernameWriteBack;

function ext(doc: JsonObject | undefined): JsonObject {
  return ((doc?.[SWITCHBOARD] as JsonObject | undefined) ?? {}) as JsonObject;
}

function primaryEmail(doc: JsonObject): string | undefined {
  const emails = Array.isArray(doc.emails) ? (doc.emails as JsonObject[]) : [];
  const chosen = emails.find((e) => e?.primary === true) ?? emails[0];
  return typeof chosen?.value === 'string' ? chosen.value : undefined;
}

/** The username to write back for this write, or undefined when the write is not the service's initial configuration. */
export function usernameToApply(writer: Writer, userId: string, before: JsonObject | undefined, next: JsonObject): UsernameToApply | undefined {
  if (writer.type !== 'admin') return undefined;
  if (ext(before).mivbService === true || ext(next).mivbService !== true) return undefined;
  const username = ext(next).username;
  if (typeof username !== 'string' || username.trim() === '' || username === ext(before).username) return undefined;
  const name = (next[CORE_NAME] as JsonObject | undefined) ?? {};
  const out: UsernameToApply = { type: 'username', userId, username };
  if (typeof name.givenName === 'string') out.givenName = name.givenName;
  if (typeof name.familyName === 'string') out.familyName = name.familyName;
  const email = primaryEmail(next);
  if (email) out.email = email;
  return out;
}
