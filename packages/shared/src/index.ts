export {
  SERVER_TIMEOUTS,
  handleErrors,
  notFound,
  portFromEnv,
  serve,
  trustedProxies,
  type ServeOptions,
} from './http.js';
export { log, type Severity } from './log.js';
export { ctime, views } from './page.js';
export { addServerTiming } from './timing.js';
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
