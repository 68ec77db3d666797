import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, post, postForFile, saveFile, withQuery, type Me } from '../api.js';
import { Refusal, Table, useChange, useLoad } from '../parts.js';
import type { Organisation, PassRow } from '../types.js';
import { PhoneLinksCard } from './PhoneLinks.js';

const DAY_MS = 86_400_000;

function dateInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The end of the chosen day, in the browser's zone (a pass is good through its last day). */
function endOfDay(value: string): number {
  return new Date(`${value}T23:59:59`).getTime();
}

function IssuePasses({ orgId, teams, done }: { orgId: string; teams: string[]; done: () => void }) {
  const { t } = useTranslation();
  const [scope, setScope] = useState<'org' | 'team' | 'workers'>('team');
  const [team, setTeam] = useState('');
  const [workers, setWorkers] = useState('');
  const [expires, setExpires] = useState(() => dateInput(Date.now() + 365 * DAY_MS));
  const [result, setResult] = useState<{ issued: number; alreadyHeld: number } | undefined>();
  const change = useChange(done);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setResult(undefined);
    const body = {
      expiresAtMs: endOfDay(expires),
      ...(scope === 'team' ? { team } : {}),
      ...(scope === 'workers' ? { workerIds: workers.split(/[\s,]+/).filter(Boolean) } : {}),
    };
    void change.run(async () => setResult(await post<{ issued: number; alreadyHeld: number }>(`/api/organisations/${encodeURIComponent(orgId)}/passes`, body)));
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="issue-heading">
      <h3 id="issue-heading">{t('passes.issueHeading')}</h3>
      <fieldset>
        <legend>{t('passes.scope')}</legend>
        {(['org', 'team', 'workers'] as const).map((s) => (
          <label key={s} className="choice">
            <input type="radio" name="scope" value={s} checked={scope === s} onChange={() => setScope(s)} />
            {t(`passes.scope${s === 'org' ? 'Org' : s === 'team' ? 'Team' : 'Workers'}`)}
          </label>
        ))}
      </fieldset>
      {scope === 'team' && (
        <label>
          {t('passes.team')}
          <select name="issue-team" required value={team} onChange={(e) => setTeam(e.target.value)}>
            <option value="" />
            {teams.map((tm) => (
              <option key={tm} value={tm}>
                {tm}
              </option>
            ))}
          </select>
        </label>
      )}
      {scope === 'workers' && (
        <label>
          {t('passes.workerIds')}
          <input name="issue-workers" required value={workers} onChange={(e) => setWorkers(e.target.value)} />
        </label>
      )}
      <label>
        {t('passes.expires')}
        <input name="issue-expires" type="date" required value={expires} onChange={(e) => setExpires(e.target.value)} />
      </label>
      <button type="submit" disabled={change.busy}>
        {t('passes.issue')}
      </button>
      {result && (
        <p role="status" className="ok" data-testid="issue-result">
          {t('passes.issued', result)}
        </p>
      )}
      <Refusal error={change.error} />
    </form>
  );
}

function PrintSheet({ orgId, teams, done }: { orgId: string; teams: string[]; done: () => void }) {
  const { t } = useTranslation();
  const [team, setTeam] = useState('');
  const [busy, setBusy] = useState(false);
  const [file, setFile] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setFile(undefined);
    try {
      const { blob, fileName } = await postForFile(`/api/organisations/${encodeURIComponent(orgId)}/sheet`, { team });
      saveFile(blob, fileName);
      setFile(fileName);
      done();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card inline" onSubmit={(e) => void submit(e)} aria-labelledby="sheet-heading">
      <h3 id="sheet-heading">{t('passes.sheetHeading')}</h3>
      <label>
        {t('passes.team')}
        <select name="sheet-team" required value={team} onChange={(e) => setTeam(e.target.value)}>
          <option value="" />
          {teams.map((tm) => (
            <option key={tm} value={tm}>
              {tm}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy}>
        {busy ? t('passes.printing') : t('passes.print')}
      </button>
      {file && (
        <p role="status" className="ok">
          {t('passes.downloaded', { file })}
        </p>
      )}
      <Refusal error={error} />
    </form>
  );
}

function RevokeWorker({ orgId, done }: { orgId: string; done: () => void }) {
  const { t } = useTranslation();
  const [worker, setWorker] = useState('');
  const [count, setCount] = useState<number | undefined>();
  const change = useChange(done);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void change.run(async () => setCount((await post<{ revoked: number }>(`/api/organisations/${encodeURIComponent(orgId)}/workers/${encodeURIComponent(worker.trim())}/revoke`, {})).revoked));
  };
  return (
    <form className="card inline" onSubmit={submit} aria-labelledby="revoke-worker-heading">
      <h3 id="revoke-worker-heading">{t('passes.revokeWorkerHeading')}</h3>
      <label>
        {t('passes.worker')}
        <input name="revoke-worker" required value={worker} onChange={(e) => setWorker(e.target.value)} />
      </label>
      <button type="submit" disabled={change.busy}>
        {t('passes.revokeWorker')}
      </button>
      {count !== undefined && (
        <p role="status" className="ok">
          {t('passes.revokedCount', { count })}
        </p>
      )}
      <Refusal error={change.error} />
    </form>
  );
}

/** An organisation's passes: issue (organisation, team or workers), print a team's sheet, list, revoke. */
export function PassesPage({ me }: { me: Me }) {
  const { t, i18n } = useTranslation();
  const orgs = useLoad<Organisation[]>(me.org === undefined ? '/api/organisations' : undefined);
  const [chosen, setChosen] = useState('');
  const orgId = me.org ?? chosen;
  const base = orgId ? `/api/organisations/${encodeURIComponent(orgId)}` : undefined;
  const teams = useLoad<string[]>(base && `${base}/teams`);
  const [worker, setWorker] = useState('');
  const passes = useLoad<PassRow[]>(base && withQuery(`${base}/passes`, { worker: worker.trim() || undefined }));
  const revoke = useChange(passes.reload);
  const mayChange = me.role === 'operator' || me.role === 'manager';
  const day = (ms: number) => new Date(ms).toLocaleDateString(i18n.language === 'en' ? 'en-GB' : 'vi-VN');
  return (
    <section aria-labelledby="passes-heading" data-testid="passes-page">
      <h2 id="passes-heading">{t('passes.heading')}</h2>
      {me.org === undefined && (
        <label>
          {t('workers.chooseOrg')}
          <select name="org" value={chosen} onChange={(e) => setChosen(e.target.value)}>
            <option value="" />
            {orgs.data?.map((o) => (
              <option key={o.id} value={o.id}>
                {o.id} — {o.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {orgId && mayChange && (
        <>
          <IssuePasses orgId={orgId} teams={teams.data ?? []} done={passes.reload} />
          <PrintSheet orgId={orgId} teams={teams.data ?? []} done={passes.reload} />
          <RevokeWorker orgId={orgId} done={passes.reload} />
          <PhoneLinksCard orgId={orgId} teams={teams.data ?? []} />
        </>
      )}
      {orgId && (
        <>
          <h3>{t('passes.listHeading')}</h3>
          <label>
            {t('passes.filterWorker')}
            <input name="pass-worker" type="search" value={worker} onChange={(e) => setWorker(e.target.value)} />
          </label>
          <Refusal error={passes.error ?? revoke.error} />
          <Table label={t('passes.listHeading')} testId="passes" head={[t('passes.passId'), t('passes.worker'), t('workers.team'), t('passes.kind'), t('passes.issuedAt'), t('passes.expiresAt'), t('passes.state'), '']}>
            {passes.data?.map((p) => (
              <tr key={p.passId}>
                <td>
                  <code>{p.passId}</code>
                </td>
                <td>
                  {p.fullName ?? t('passes.notOnList')} <small>({p.workerId})</small>
                </td>
                <td>{p.team ?? ''}</td>
                <td>{p.kind === 'phone' ? t('passes.kindPhone') : t('passes.kindPrinted')}</td>
                <td>{day(p.issuedAtMs)}</td>
                <td>{day(p.expiresAtMs)}</td>
                <td>{t(`passes.${p.state}`)}</td>
                <td>
                  {mayChange && p.state === 'live' && (
                    <button type="button" aria-label={`${t('passes.revoke')} ${p.passId}`} onClick={() => void revoke.run(() => post(`${base!}/passes/${p.passId}/revoke`, {}))}>
                      {t('passes.revoke')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </section>
  );
}
