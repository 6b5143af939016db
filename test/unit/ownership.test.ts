import { expect } from 'chai';
import { changedAttributes, fieldOwners, resolveWrite, type Writer } from '../../src/domain/ownership.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SWITCHBOARD = 'urn:switchboard:scim:schemas:extension:2.0:User';
const EXTENSIONS = [ENTERPRISE, SWITCHBOARD];

describe('ownership rules (pure)', () => {
  describe('fieldOwners', () => {
    it('when an identity source and the PBX both claim names and extensions, then the identity source owns names and the PBX owns extensions', () => {
      const owners = fieldOwners([
        { sourceId: 'pbx-1', kind: 'mivb', ownedAttributes: ['name', `${SWITCHBOARD}:extensions`] },
        { sourceId: 'ldap-1', kind: 'ldap', ownedAttributes: ['name', 'emails'] },
      ]);
      expect(owners.get('name')).to.deep.equal({ sourceId: 'ldap-1', kind: 'ldap' });
      expect(owners.get('emails')).to.deep.equal({ sourceId: 'ldap-1', kind: 'ldap' });
      expect(owners.get(`${SWITCHBOARD}:extensions`)).to.deep.equal({ sourceId: 'pbx-1', kind: 'mivb' });
    });

    it('when the account sets its own precedence for an attribute, then that order decides', () => {
      const owners = fieldOwners(
        [
          { sourceId: 'ldap-1', kind: 'ldap', ownedAttributes: ['name'] },
          { sourceId: 'pbx-1', kind: 'mivb', ownedAttributes: ['name'] },
        ],
        { name: ['mivb', 'ldap'] },
      );
      expect(owners.get('name')?.kind).to.equal('mivb');
    });
  });

  describe('changedAttributes', () => {
    it('when only the key order of an unchanged value differs (as jsonb returns it), then nothing changed', () => {
      const stored = { userName: 'a', emails: [{ primary: true, type: 'work', value: 'a@x.example' }], name: { familyName: 'B', givenName: 'A' } };
      const incoming = { userName: 'a', emails: [{ value: 'a@x.example', type: 'work', primary: true }], name: { givenName: 'A', familyName: 'B' } };
      expect(changedAttributes(stored, incoming, EXTENSIONS)).to.deep.equal([]);
    });

    it('when values, element order or extension sub-attributes differ, then exactly those attributes are named', () => {
      const before = { title: 'Dev', emails: [{ value: 'a@x' }, { value: 'b@x' }], [ENTERPRISE]: { department: 'R&D', costCenter: '1' } };
      const after = { title: 'Dev', emails: [{ value: 'b@x' }, { value: 'a@x' }], nickName: 'Al', [ENTERPRISE]: { department: 'Sales', costCenter: '1' } };
      expect(changedAttributes(before, after, EXTENSIONS).sort()).to.deep.equal(['emails', 'nickName', `${ENTERPRISE}:department`].sort());
    });

    it('when an attribute is absent on one side and null or undefined on the other, then it is unchanged', () => {
      expect(changedAttributes({ title: null }, {}, EXTENSIONS)).to.deep.equal([]);
      expect(changedAttributes({ name: { givenName: 'A', middleName: undefined } }, { name: { givenName: 'A' } }, EXTENSIONS)).to.deep.equal([]);
    });
  });

  describe('resolveWrite', () => {
    const owners = fieldOwners([{ sourceId: 'ldap-1', kind: 'ldap', ownedAttributes: ['title', 'emails'] }]);
    const current = { userName: 'a', title: 'Dev', emails: [{ value: 'a@x' }] };

    it('when an admin changes an attribute a source owns, then it is refused naming the owner; an unowned change passes', () => {
      const admin: Writer = { type: 'admin', via: 'token', actor: 'admin:1' };
      const result = resolveWrite(owners, admin, current, { ...current, title: 'Boss', nickName: 'Al' }, EXTENSIONS);
      expect(result.refused).to.deep.equal([{ attribute: 'title', owner: { sourceId: 'ldap-1', kind: 'ldap' } }]);
      expect(result.next.nickName).to.equal('Al');
    });

    it('when another source writes an owned attribute, then the owner value stays and the attribute is counted as ignored', () => {
      const pbx: Writer = { type: 'source', actor: 'mivb', sourceId: 'pbx-1', kind: 'mivb' };
      const result = resolveWrite(owners, pbx, current, { ...current, title: 'Boss', displayName: 'A' }, EXTENSIONS);
      expect(result.ignored).to.deep.equal(['title']);
      expect(result.next.title).to.equal('Dev');
      expect(result.next.displayName).to.equal('A');
      expect(result.refused).to.deep.equal([]);
    });

    it('when the owning source writes its own attribute, then the write goes through', () => {
      const ldap: Writer = { type: 'source', actor: 'ldap', sourceId: 'ldap-1', kind: 'ldap' };
      const result = resolveWrite(owners, ldap, current, { ...current, title: 'Boss' }, EXTENSIONS);
      expect(result.next.title).to.equal('Boss');
      expect(result.ignored).to.deep.equal([]);
    });
  });
});
