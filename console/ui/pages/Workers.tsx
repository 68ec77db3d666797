import type { TFunction } from 'i18next';
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, get, upload, withQuery, type ListProblem, type Me } from '../api.js';
import { Ago, Refusal, Table, useLoad } from '../parts.js';
import type { Organisation, Site, UploadResult, WorkerRow } from '../types.js';

/** A worker list's problem in the page's language, from its code and parameters (a field by its name in the list's form). */
export function problemText(t: TFunction, p: ListProblem): string {
  const key = `listProblem.${p.code ?? ''}`;
  if (!p.code || !t(key, { defaultValue: '' })) return p.message || t('listProblem.unknown');
  const params = p.params ?? {};
  const field = typeof params.field === 'string' ? t(`listField.${params.field}`, { defaultValue: params.field }) : undefined;
  return t(key, { ...params, ...(field !== undefined ? { field } : {}) });
}

function UploadList({ orgId, sites, done }: { orgId: string; sites: Site[]; done: () => void }) {
  const { t } = useTranslation();
  const [file, setFile] = useState<File | null>(null);
  const [siteId, setSiteId] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<UploadResult | undefined>();
  const [problems, setProblems] = useState<ListProblem[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setResult(undefined);
    setProblems(undefined);
    setError(undefined);
    try {
      setResult(await upload<UploadResult>(withQuery(`/api/organisations/${encodeURIComponent(orgId)}/workers`, { site: siteId }), file));
      done();
    } catch (err) {
      if (err instanceof ApiError && err.problems?.length) setProblems(err.problems);
      else setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="upload-heading">
      <h3 id="upload-heading">{t('workers.uploadHeading')}</h3>
      <label>
        {t('workers.file')}
        <input name="list" type="file" required accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </label>
      {sites.length > 1 && (
        <label>
          {t('workers.siteHint')}
          <select name="upload-site" value={siteId} onChange={(e) => setSiteId(e.target.value)}>
            <option value="" />
            {sites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.id} — {s.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <button type="submit" disabled={busy || !file}>
        {busy ? t('workers.uploading') : t('workers.upload')}
      </button>
      {result && (
        <p role="status" className="ok" data-testid="upload-result">
          {t('workers.uploaded', { ...result })}
        </p>
      )}
      <Refusal error={error} />
      {problems && (
        <div role="alert" data-testid="upload-problems">
          <p className="error">{t('workers.problemsHeading')}</p>
          <Table label={t('workers.problemsHeading')} head={[t('workers.line'), t('workers.problem')]}>
            {problems.map((p, i) => (
              <tr key={i} data-line={p.line}>
                <td>{p.line > 0 ? p.line : t('workers.wholeFile')}</td>
                <td>{problemText(t, p)}</td>
              </tr>
            ))}
          </Table>
        </div>
      )}
    </form>
  );
}

function SearchWorkers({ orgId, round }: { orgId: string; round: number }) {
  const { t } = useTranslation();
  const [q, setQ] = useState('');
  const [rows, setRows] = useState<WorkerRow[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const search = async (e?: FormEvent) => {
    e?.preventDefault();
    setError(undefined);
    try {
      setRows(await get<WorkerRow[]>(withQuery(`/api/organisations/${encodeURIComponent(orgId)}/workers`, { q: q.trim() })));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <section className="card" aria-labelledby="search-heading" key={round}>
      <h3 id="search-heading">{t('workers.searchHeading')}</h3>
      <form className="row" role="search" onSubmit={(e) => void search(e)}>
        <label>
          {t('workers.search')}
          <input name="q" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </label>
        <button type="submit">{t('workers.searchButton')}</button>
      </form>
      <Refusal error={error} />
      {rows && (
        <>
          <p role="status">{t('workers.results', { count: rows.length })}</p>
          <Table label={t('workers.searchHeading')} testId="worker-results" head={[t('common.id'), t('common.name'), t('workers.team'), t('common.site')]}>
            {rows.map((w) => (
              <tr key={w.workerId}>
                <td>{w.workerId}</td>
                <td>{w.fullName}</td>
                <td>{w.team}</td>
                <td>{w.siteId}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </section>
  );
}

/** An organisation's worker list: upload (every bad row by line, all or nothing), its age and 15:00 standing, search. */
export function WorkersPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const orgs = useLoad<Organisation[]>('/api/organisations');
  const [chosen, setChosen] = useState<string>(me.org ?? '');
  const orgId = me.org ?? chosen;
  const sites = useLoad<Site[]>(orgId ? withQuery('/api/sites', { org: orgId }) : undefined);
  const [round, setRound] = useState(0);
  const org = orgs.data?.find((o) => o.id === orgId);
  const mayUpload = me.role === 'operator' || me.role === 'manager';
  return (
    <section aria-labelledby="workers-heading" data-testid="workers-page">
      <h2 id="workers-heading">{t('workers.heading')}</h2>
      <Refusal error={orgs.error} />
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
      {org && (
        <dl data-testid="org-standing">
          <dt>{t('common.organisation')}</dt>
          <dd>
            {org.id} — {org.name}
          </dd>
          <dt>{t('orgs.workers')}</dt>
          <dd data-testid="org-workers">{org.workers}</dd>
          <dt>{t('orgs.listAge')}</dt>
          <dd>
            <Ago ms={org.compliance?.listAgeMs ?? null} />
          </dd>
          <dt>{t('orgs.today')}</dt>
          <dd>{org.compliance ? t(`todaysList.${org.compliance.todaysList}`) : ''}</dd>
          <dt>{t('orgs.compliance')}</dt>
          <dd className={org.compliance?.outOfCompliance ? 'flag' : ''}>{org.compliance?.outOfCompliance ? t('orgs.outOfCompliance') : t('orgs.ok')}</dd>
        </dl>
      )}
      {orgId && mayUpload && (
        <UploadList
          orgId={orgId}
          sites={sites.data ?? []}
          done={() => {
            orgs.reload();
            setRound((r) => r + 1);
          }}
        />
      )}
      {orgId && <SearchWorkers orgId={orgId} round={round} />}
    </section>
  );
}
