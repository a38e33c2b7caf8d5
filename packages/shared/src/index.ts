// What the stages, their tests and the tools use of the shared code: the Visit model and its
// store, the page, the server, and the cache's safety net (Module 13's fail-open calls).
export { dumpVisits } from './cached-visits.js';
export { cacheCalls, type CacheClient } from './fail-open.js';
export {
  handleErrors,
  notFound,
  remoteAddr,
  serve,
  trustedProxies,
  type ServeOptions,
} from './http.js';
export { ctime, views } from './page.js';
export { certificatesSetting, portNumber, portSetting } from './settings.js';
export { type ServerTiming } from './timing.js';
export { UNREADABLE_VISITOR } from './visit-entity.js';
export {
  datastoreClient,
  datastoreVisits,
  visitsFromEnv,
  type DatastoreVisitsOptions,
  type Visit,
  type VisitStore,
} from './visits.js';
