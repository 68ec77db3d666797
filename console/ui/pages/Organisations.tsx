import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { post, type Me } from '../api.js';
import { Ago, Refusal, Table, useChange, useLoad } from '../parts.js';
import type { Checkpoint, Organisation, Site } from '../types.js';

const ORG_KINDS = ['company', 'agency', 'market'] as const;
const CHECKPOINT_KINDS = ['gate', 'zone', 'team', 'canteen', 'dormitory', 'bus'] as const;

function AddOrganisation({ done }: { done: () => void }) {
  const { t } = useTranslation();
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [kind, setKind] = useState<string>('company');
  const change = useChange(done);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void change.run(() => post('/api/organisations', { id: id.trim(), name: name.trim(), kind })).then((ok) => ok && (setId(''), setName('')));
  };
  return (
    <form className="card inline" onSubmit={submit} aria-labelledby="add-org">
      <h3 id="add-org">{t('orgs.addHeading')}</h3>
      <label>
        {t('common.id')}
        <input name="org-id" required value={id} onChange={(e) => setId(e.target.value)} />
      </label>
      <label>
        {t('common.name')}
        <input name="org-name" required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        {t('common.kind')}
        <select name="org-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          {ORG_KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`orgKind.${k}`)}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={change.busy}>
        {t('common.add')}
      </button>
      <Refusal error={change.error} />
    </form>
  );
}

function AddSite({ orgs, done }: { orgs: Organisation[]; done: () => void }) {
  const { t } = useTranslation();
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [orgId, setOrgId] = useState('');
  const change = useChange(done);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void change.run(() => post('/api/sites', { id: id.trim(), orgId, ...(name.trim() ? { name: name.trim() } : {}) })).then((ok) => ok && (setId(''), setName('')));
  };
  return (
    <form className="card inline" onSubmit={submit} aria-labelledby="add-site">
      <h3 id="add-site">{t('orgs.addSiteHeading')}</h3>
      <label>
        {t('common.organisation')}
        <select name="site-org" required value={orgId} onChange={(e) => setOrgId(e.target.value)}>
          <option value="" />
          {orgs.map((o) => (
            <option key={o.id} value={o.id}>
              {o.id} — {o.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('common.id')}
        <input name="site-id" required value={id} onChange={(e) => setId(e.target.value)} />
      </label>
      <label>
        {t('common.name')}
        <input name="site-name" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <button type="submit" disabled={change.busy}>
        {t('common.add')}
      </button>
      <Refusal error={change.error} />
    </form>
  );
}

function AddCheckpoint({ sites, done }: { sites: Site[]; done: () => void }) {
  const { t } = useTranslation();
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [siteId, setSiteId] = useState('');
  const [kind, setKind] = useState<string>('gate');
  const [serves, setServes] = useState('');
  const change = useChange(done);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const orgIds = serves.split(/[\s,]+/).filter(Boolean);
    void change
      .run(() => post('/api/checkpoints', { id: id.trim(), siteId, kind, ...(name.trim() ? { name: name.trim() } : {}), ...(orgIds.length ? { orgIds } : {}) }))
      .then((ok) => ok && (setId(''), setName(''), setServes('')));
  };
  return (
    <form className="card inline" onSubmit={submit} aria-labelledby="add-checkpoint">
      <h3 id="add-checkpoint">{t('orgs.addCheckpointHeading')}</h3>
      <label>
        {t('common.site')}
        <select name="checkpoint-site" required value={siteId} onChange={(e) => setSiteId(e.target.value)}>
          <option value="" />
          {sites.map((s) => (
            <option key={s.id} value={s.id}>
              {s.id} — {s.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('common.id')}
        <input name="checkpoint-id" required value={id} onChange={(e) => setId(e.target.value)} />
      </label>
      <label>
        {t('common.name')}
        <input name="checkpoint-name" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        {t('common.kind')}
        <select name="checkpoint-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          {CHECKPOINT_KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`checkpointKind.${k}`)}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('orgs.serves')}
        <input name="checkpoint-orgs" aria-describedby="serves-hint" value={serves} onChange={(e) => setServes(e.target.value)} />
        <small id="serves-hint">{t('orgs.servesHint')}</small>
      </label>
      <button type="submit" disabled={change.busy}>
        {t('common.add')}
      </button>
      <Refusal error={change.error} />
    </form>
  );
}

/** Operators: put devices at a checkpoint, and say which organisations a checkpoint serves. */
function CheckpointSetup({ checkpoints, done }: { checkpoints: Checkpoint[]; done: () => void }) {
  const { t } = useTranslation();
  const [checkpoint, setCheckpoint] = useState('');
  const [devices, setDevices] = useState('');
  const [orgs, setOrgs] = useState('');
  const place = useChange(done);
  const serve = useChange(done);
  const list = (text: string) => text.split(/[\s,]+/).filter(Boolean);
  const path = `/api/checkpoints/${encodeURIComponent(checkpoint)}`;
  return (
    <div className="card" role="group" aria-labelledby="checkpoint-setup">
      <h3 id="checkpoint-setup">{t('orgs.setupHeading')}</h3>
      <label>
        {t('common.checkpoint')}
        <select name="setup-checkpoint" value={checkpoint} onChange={(e) => setCheckpoint(e.target.value)}>
          <option value="" />
          {checkpoints.map((c) => (
            <option key={c.id} value={c.id}>
              {c.id} — {c.name}
            </option>
          ))}
        </select>
      </label>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void place.run(() => post(`${path}/devices`, { deviceIds: list(devices) })).then((ok) => ok && setDevices(''));
        }}
      >
        <label>
          {t('orgs.deviceIds')}
          <input name="setup-devices" required value={devices} onChange={(e) => setDevices(e.target.value)} />
        </label>
        <button type="submit" disabled={!checkpoint || place.busy}>
          {t('orgs.placeDevices')}
        </button>
      </form>
      <Refusal error={place.error} />
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void serve.run(() => post(`${path}/organisations`, { orgIds: list(orgs) })).then((ok) => ok && setOrgs(''));
        }}
      >
        <label>
          {t('orgs.serves')}
          <input name="setup-orgs" required value={orgs} onChange={(e) => setOrgs(e.target.value)} />
        </label>
        <button type="submit" disabled={!checkpoint || serve.busy}>
          {t('orgs.setServes')}
        </button>
      </form>
      <Refusal error={serve.error} />
    </div>
  );
}

/** Organisations with their CV 2242 standing, their sites and checkpoints; operators add them, others look. */
export function OrganisationsPage({ me }: { me: Me }) {
  const { t } = useTranslation();
  const orgs = useLoad<Organisation[]>('/api/organisations');
  const sites = useLoad<Site[]>('/api/sites');
  const checkpoints = useLoad<Checkpoint[]>('/api/checkpoints');
  const reload = () => {
    orgs.reload();
    sites.reload();
    checkpoints.reload();
  };
  const operator = me.role === 'operator';
  // Rotating check-in codes are shown by operators and by the managers of the organisations a checkpoint serves.
  const showsCodes = me.role !== 'health';
  return (
    <section aria-labelledby="orgs-heading" data-testid="organisations-page">
      <h2 id="orgs-heading">{t('orgs.heading')}</h2>
      {!operator && <p>{t('common.readOnly')}</p>}
      <Refusal error={orgs.error} />
      <Table label={t('orgs.heading')} testId="organisations" head={[t('common.id'), t('common.name'), t('common.kind'), t('orgs.sites'), t('orgs.workers'), t('orgs.listAge'), t('orgs.today'), t('orgs.compliance')]}>
        {orgs.data?.map((o) => (
          <tr key={o.id}>
            <td>{o.id}</td>
            <td>{o.name}</td>
            <td>{t(`orgKind.${o.kind}`)}</td>
            <td>{o.sites}</td>
            <td>{o.workers}</td>
            <td>
              <Ago ms={o.compliance?.listAgeMs ?? null} />
            </td>
            <td>{o.compliance ? t(`todaysList.${o.compliance.todaysList}`) : ''}</td>
            <td className={o.compliance?.outOfCompliance ? 'flag' : ''}>{o.compliance?.outOfCompliance ? t('orgs.outOfCompliance') : t('orgs.ok')}</td>
          </tr>
        ))}
      </Table>
      {operator && <AddOrganisation done={reload} />}

      <h2>{t('orgs.sitesHeading')}</h2>
      <Table label={t('orgs.sitesHeading')} testId="sites" head={[t('common.id'), t('common.name'), t('common.organisation'), t('orgs.devices'), t('orgs.checkpointsHeading')]}>
        {sites.data?.map((s) => (
          <tr key={s.id}>
            <td>{s.id}</td>
            <td>{s.name}</td>
            <td>{s.orgId ?? '—'}</td>
            <td>{s.devices}</td>
            <td>{s.checkpoints}</td>
          </tr>
        ))}
      </Table>
      {operator && orgs.data && <AddSite orgs={orgs.data} done={reload} />}

      <h2>{t('orgs.checkpointsHeading')}</h2>
      <Table
        label={t('orgs.checkpointsHeading')}
        testId="checkpoints"
        head={[t('common.id'), t('common.name'), t('common.kind'), t('common.site'), t('orgs.serves'), t('orgs.devices'), ...(showsCodes ? [t('orgs.checkinCode')] : [])]}
      >
        {checkpoints.data?.map((c) => (
          <tr key={c.id}>
            <td>{c.id}</td>
            <td>{c.name}</td>
            <td>{t(`checkpointKind.${c.kind}`)}</td>
            <td>{c.siteId}</td>
            <td>{c.orgIds.join(', ')}</td>
            <td>{c.devices.join(', ')}</td>
            {showsCodes && (
              <td>
                {/* A new tab: the display goes to the screen at the checkpoint, the console stays here. */}
                <a href={`#display/${encodeURIComponent(c.id)}`} target="_blank" rel="noopener" data-testid="show-rotating-code">
                  {t('orgs.showRotating')}
                </a>
              </td>
            )}
          </tr>
        ))}
      </Table>
      {operator && sites.data && <AddCheckpoint sites={sites.data} done={reload} />}
      {operator && checkpoints.data && checkpoints.data.length > 0 && <CheckpointSetup checkpoints={checkpoints.data} done={reload} />}
    </section>
  );
}
