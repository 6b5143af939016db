import type { Knex } from 'knex';
import type { SecretBox } from '../lib/secret-box.js';
import { auditRepo } from './audit-repo.js';
import { sourcesRepo } from './sources-repo.js';

/**
 * `switchboard secrets rotate`: every sealed source secret opened with the box's keys and sealed again under its
 * current key, in one transaction (all sources move to the new key, or none does). Each source re-sealed leaves an
 * audit entry in its account (writer and actor `system`: the command runs on the server's host with the database's
 * credentials, no token names who ran it), naming the key its secrets are now sealed under, never a secret.
 */
export async function rotateSourceSecrets(db: Knex, box: SecretBox): Promise<number> {
  return db.transaction(async (trx) => {
    let rotated = 0;
    for (const source of await sourcesRepo.allConfigs(trx)) {
      if (box.isCurrent(source.config)) continue;
      await sourcesRepo.replaceConfig(trx, source.accountId, source.id, box.resealAll(source.config));
      await auditRepo.record(trx, {
        accountId: source.accountId, actor: 'system', writer: 'system', action: 'source.secrets_rotate', targetType: 'Source', targetId: source.id, details: { keyId: box.keyId },
      });
      rotated++;
    }
    return rotated;
  });
}
