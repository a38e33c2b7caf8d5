export { handleErrors, notFound, serve, trustedProxies, type ServeOptions } from './http.js';
export { log, type Severity } from './log.js';
export { ctime, views } from './page.js';
export { addServerTiming } from './timing.js';
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
