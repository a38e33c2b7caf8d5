export { MAX_CACHED_LENGTH, MAX_CACHED_VISITS, dumpVisits } from './cached-visits.js';
export { cacheCalls, type CacheClient } from './fail-open.js';
export {
  SERVER_TIMEOUTS,
  handleErrors,
  notFound,
  remoteAddr,
  portFromEnv,
  serve,
  trustedProxies,
  type ServeOptions,
} from './http.js';
export { log, type Severity } from './log.js';
export { ctime, views } from './page.js';
export { certificatesSetting, portNumber, portSetting } from './settings.js';
export { type ServerTiming } from './timing.js';
export {
  MAX_VISITOR_LENGTH,
  UNREADABLE_VISITOR,
  readVisitEntity,
  type EntityReading,
} from './visit-entity.js';
export {
  DEFAULT_DEADLINE_MS,
  StoreUnavailableError,
  datastoreClient,
  datastoreProjectId,
  datastoreVisits,
  memoryVisits,
  visitsFromEnv,
  type DatastoreVisitsOptions,
  type Visit,
  type VisitStore,
} from './visits.js';
