import type { Migration } from '../../../../base/node/sqlite.js';
import * as m0001 from './0001-events.js';
import * as m0002 from './0002-roster.js';
import * as m0003 from './0003-outbox.js';
import * as m0004 from './0004-alerts.js';
import * as m0005 from './0005-downlink.js';
import * as m0006 from './0006-notices.js';
import * as m0007 from './0007-revocations-policy.js';
import * as m0008 from './0008-hub-keys.js';
import * as m0009 from './0009-supervisor.js';
import * as m0010 from './0010-alert-note.js';
import * as m0011 from './0011-key-roles-issue-times.js';
import * as m0012 from './0012-held-spool.js';
import * as m0013 from './0013-named-supervisors.js';
import * as m0014 from './0014-remote-passages.js';
import * as m0015 from './0015-supervisor-sessions.js';
import * as m0016 from './0016-remote-retractions.js';
import * as m0017 from './0017-placement.js';
import * as m0018 from './0018-hub-supervisors.js';
import * as m0019 from './0019-trace-index.js';
import * as m0020 from './0020-trips.js';
import * as m0021 from './0021-gate-for-everyone.js';
import * as m0022 from './0022-visitors.js';
import * as m0023 from './0023-dcc-signers.js';
import * as m0024 from './0024-declaration-bits-kept-14-days.js';

/** In order; a migration's number is its `user_version` once applied. Never edit a released one. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: '0001-events', up: m0001.up },
  { version: 2, name: '0002-roster', up: m0002.up },
  { version: 3, name: '0003-outbox', up: m0003.up },
  { version: 4, name: '0004-alerts', up: m0004.up },
  { version: 5, name: '0005-downlink', up: m0005.up },
  { version: 6, name: '0006-notices', up: m0006.up },
  { version: 7, name: '0007-revocations-policy', up: m0007.up },
  { version: 8, name: '0008-hub-keys', up: m0008.up },
  { version: 9, name: '0009-supervisor', up: m0009.up },
  { version: 10, name: '0010-alert-note', up: m0010.up },
  { version: 11, name: '0011-key-roles-issue-times', up: m0011.up },
  { version: 12, name: '0012-held-spool', up: m0012.up },
  { version: 13, name: '0013-named-supervisors', up: m0013.up },
  { version: 14, name: '0014-remote-passages', up: m0014.up },
  { version: 15, name: '0015-supervisor-sessions', up: m0015.up },
  { version: 16, name: '0016-remote-retractions', up: m0016.up },
  { version: 17, name: '0017-placement', up: m0017.up },
  { version: 18, name: '0018-hub-supervisors', up: m0018.up },
  { version: 19, name: '0019-trace-index', up: m0019.up },
  { version: 20, name: '0020-trips', up: m0020.up },
  { version: 21, name: '0021-gate-for-everyone', up: m0021.up },
  { version: 22, name: '0022-visitors', up: m0022.up },
  { version: 23, name: '0023-dcc-signers', up: m0023.up },
  { version: 24, name: '0024-declaration-bits-kept-14-days', up: m0024.up },
];
