import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { post, type ConsoleRole, type Me } from '../api.js';
import { Refusal, Table, useChange, useLoad } from '../parts.js';
import type { Organisation } from '../types.js';

interface AuditEntry {
  at: string;
  account: string;
  action: string;
  target: string;
  outcome: 'ok' | 'refused' | 'failed';
  ip: string;
}

const ROLES: readonly ConsoleRole[] = ['operator', 'manager', 'health'];

function AddAccount({ done }: { done: () => void }) {
  const { t } = useTranslation();
  const orgs = useLoad<Organisation[]>('/api/organisations');
  const [name, setName] = useState('');
  const [role, setRole] = useState<ConsoleRole>('manager');
  const [org, setOrg] = useState('');
  const [password, setPassword] = useState('');
  const change = useChange(done);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void change
      .run(() => post('/api/accounts', { name: name.trim(), role, password, ...(role === 'manager' ? { org } : {}) }))
      .then((ok) => ok && (setName(''), setPassword('')));
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="add-account">
      <h3 id="add-account">{t('accounts.addHeading')}</h3>
      <label>
        {t('accounts.name')}
        <input name="account-name" required autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        {t('accounts.role')}
        <select name="account-role" value={role} onChange={(e) => setRole(e.target.value as ConsoleRole)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`role.${r}`)}
            </option>
          ))}
        </select>
      </label>
      {role === 'manager' && (
        <label>
          {t('common.organisation')}
          <select name="account-org" required value={org} onChange={(e) => setOrg(e.target.value)}>
            <option value="" />
            {orgs.data?.map((o) => (
              <option key={o.id} value={o.id}>
                {o.id} — {o.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        {t('accounts.password')}
        <input name="account-password" type="password" autoComplete="new-password" required minLength={12} maxLength={200} value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <button type="submit" disabled={change.busy}>
        {t('common.add')}
      </button>
      {change.saved && (
        <p role="status" className="ok">
          {t('common.saved')}
        </p>
      )}
      <Refusal error={change.error} />
    </form>
  );
}

/** Operators: the console's accounts (add one: a manager of a registered organisation) and the audit trail. */
export function AccountsPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const accounts = useLoad<Me[]>('/api/accounts');
  const audit = useLoad<AuditEntry[]>('/api/audit?limit=200');
  return (
    <section aria-labelledby="accounts-heading" data-testid="accounts-page">
      <h2 id="accounts-heading">{t('accounts.heading')}</h2>
      <Refusal error={accounts.error} />
      <Table label={t('accounts.heading')} testId="accounts" head={[t('accounts.name'), t('accounts.role'), t('common.organisation')]}>
        {accounts.data?.map((a) => (
          <tr key={a.name}>
            <td>
              {a.name}
              {a.name === me.name ? ` (${t('accounts.you')})` : ''}
            </td>
            <td>{t(`role.${a.role}`)}</td>
            <td>{a.org ?? '—'}</td>
          </tr>
        ))}
      </Table>
      <AddAccount done={accounts.reload} />
      <h2>{t('accounts.auditHeading')}</h2>
      <Refusal error={audit.error} />
      <Table label={t('accounts.auditHeading')} testId="audit" head={[t('accounts.at'), t('accounts.name'), t('accounts.action'), t('accounts.target'), t('accounts.outcome'), t('accounts.ip')]}>
        {[...(audit.data ?? [])].reverse().map((e, i) => (
          <tr key={i} className={e.outcome === 'refused' ? 'silent' : ''}>
            <td>{new Date(e.at).toLocaleString()}</td>
            <td>{e.account}</td>
            <td>{e.action}</td>
            <td>{e.target}</td>
            <td>{t(`accounts.${e.outcome}`)}</td>
            <td>{e.ip}</td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
