import type { Knex } from 'knex';
import type { SecretBox } from '../lib/secret-box.js';
import { sourcesRepo } from './sources-repo.js';

/**
 * `switchboard secrets rotate`: every sealed source secret opened with the box's keys and sealed again under its
 * current key, in one transaction (all sources move to the new key, or none does).
 */
export async function rotateSourceSecrets(db: Knex, box: SecretBox): Promise<number> {
  return db.transaction(async (trx) => {
    let rotated = 0;
    for (const source of await sourcesRepo.allConfigs(trx)) {
      if (box.isCurrent(source.config)) continue;
      await sourcesRepo.replaceConfig(trx, source.accountId, source.id, box.resealAll(source.config));
      rotated++;
    }
    return rotated;
  });
}
