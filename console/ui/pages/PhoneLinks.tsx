import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { post, saveFile } from '../api.js';
import { Refusal, Table, useChange } from '../parts.js';

interface MadeLink {
  linkId: string;
  workerId: string;
  fullName: string;
  team: string;
  expiresAtMs: number;
  url: string;
}

const LINK_HOURS = 72;

/** A CSV cell: quoted, quotes doubled, and a leading formula character neutralised for spreadsheets. */
const cell = (v: string) => `"${(/^[=+\-@]/.test(v) ? `'${v}` : v).replace(/"/g, '""')}"`;

/** Makes phone links for a team or named workers; each link's address is shown once, to copy or download. */
export function PhoneLinksCard({ orgId, teams }: { orgId: string; teams: string[] }) {
  const { t } = useTranslation();
  const [team, setTeam] = useState('');
  const [workers, setWorkers] = useState('');
  const [made, setMade] = useState<MadeLink[] | undefined>();
  const change = useChange(() => undefined);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setMade(undefined);
    const ids = workers.split(/[\s,]+/).filter(Boolean);
    const body = { hours: LINK_HOURS, ...(ids.length ? { workerIds: ids } : { team }) };
    void change.run(async () => setMade(await post<MadeLink[]>(`/api/organisations/${encodeURIComponent(orgId)}/phone-links`, body)));
  };
  const download = () => {
    if (!made) return;
    const rows = [['workerId', 'fullName', 'team', 'url'], ...made.map((l) => [l.workerId, l.fullName, l.team, l.url])];
    saveFile(new Blob([`\ufeff${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`], { type: 'text/csv' }), `phone-links-${orgId}.csv`);
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="links-heading" data-testid="phone-links">
      <h3 id="links-heading">{t('passes.linksHeading')}</h3>
      <p>{t('passes.linksHint', { hours: LINK_HOURS })}</p>
      <div className="row">
        <label>
          {t('passes.team')}
          <select name="links-team" value={team} onChange={(e) => setTeam(e.target.value)}>
            <option value="" />
            {teams.map((tm) => (
              <option key={tm} value={tm}>
                {tm}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('passes.workerIds')}
          <input name="links-workers" value={workers} onChange={(e) => setWorkers(e.target.value)} />
        </label>
        <button type="submit" disabled={change.busy || (!team && !workers.trim())}>
          {t('passes.makeLinks')}
        </button>
      </div>
      <Refusal error={change.error} />
      {made && (
        <>
          <p role="status" className="ok">
            {t('passes.linksMade', { count: made.length })}
          </p>
          <button type="button" onClick={download}>
            {t('passes.downloadLinks')}
          </button>
          <Table label={t('passes.linksHeading')} head={[t('passes.worker'), t('common.name'), t('passes.team'), t('passes.link')]}>
            {made.map((l) => (
              <tr key={l.linkId}>
                <td>{l.workerId}</td>
                <td>{l.fullName}</td>
                <td>{l.team}</td>
                <td>
                  <input readOnly aria-label={`${t('passes.link')} ${l.workerId}`} value={l.url} onFocus={(e) => e.currentTarget.select()} />
                </td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </form>
  );
}
