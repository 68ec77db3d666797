import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError, post, postForFile, saveFile } from '../api.js';
import { Refusal } from '../parts.js';

interface ErasureReport {
  requestId: string;
  rosterRemoved: boolean;
  listRowDeleted: boolean;
  passesRevoked: number;
  passRecordsDeleted: number;
  phoneLinksDeleted: number;
  eventsAnonymised: number;
  alertsDeleted: number;
}

/** Decree 13 requests (operators): export everything held about one worker, or erase them. */
export function PersonRequestsPage() {
  const { t } = useTranslation();
  const [workerId, setWorkerId] = useState('');
  const [confirm, setConfirm] = useState(false);
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const act = async (what: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setDone(await what());
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const exportData = () =>
    void act(async () => {
      const { blob, fileName } = await postForFile('/api/person-requests/access', { workerId: workerId.trim() });
      saveFile(blob, fileName);
      return t('person.exported', { file: fileName });
    });
  const erase = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      const r = await post<ErasureReport>('/api/person-requests/erasure', { workerId: workerId.trim(), ...(force ? { force: true } : {}) });
      setConfirm(false);
      return t('person.erased', { ...r });
    });
  };
  return (
    <section aria-labelledby="person-heading" data-testid="person-page">
      <h2 id="person-heading">{t('person.heading')}</h2>
      <p>{t('person.intro')}</p>
      <form className="card" onSubmit={erase}>
        <label>
          {t('person.workerId')}
          <input name="person-worker" required value={workerId} onChange={(e) => setWorkerId(e.target.value)} />
        </label>
        <button type="button" disabled={busy || !workerId.trim()} onClick={exportData}>
          {t('person.export')}
        </button>
        <label className="choice">
          <input type="checkbox" checked={confirm} onChange={(e) => setConfirm(e.target.checked)} />
          {t('person.confirm')}
        </label>
        <label className="choice">
          <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
          {t('person.force')}
        </label>
        <button type="submit" disabled={busy || !confirm || !workerId.trim()}>
          {t('person.erase')}
        </button>
        {done && (
          <p role="status" className="ok" data-testid="person-result">
            {done}
          </p>
        )}
        <Refusal error={error} />
      </form>
    </section>
  );
}
